"""Hostile submissions: each attack is planted in a wrong-but-harmless submission.

Every test asserts (a) the attack scores no more than the same wrong code without it, (b) where the
attack has a visible effect the report names it, and (c) nothing outside the sandbox changed: the
canary path was not written, the loopback listener got no connection, and no process of the
submission is left. The suite needs bubblewrap and root (to drop student code to another uid); it
skips with the reason elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "examples" / "cs231n-2021" / "bug-softmax-no-mean"
MARK = "NNG-HOSTILE-7f3a"  # appears in every attack's command line and output, to find leftovers
LEAK = "LEAKED-" + "SECRET"


def _sandbox_reason() -> str | None:
    try:
        from grader.sandbox import available_modes
    except ImportError as exc:  # pragma: no cover - the sandbox package is part of the product
        return f"grader.sandbox unavailable: {exc}"
    reason = available_modes().get("bwrap")
    if reason:
        return f"bubblewrap sandbox unusable here: {reason}"
    if os.geteuid() != 0:
        return "needs root so that student code can be dropped to an unprivileged uid"
    if not BASE.is_dir():
        return f"base submission {BASE} missing"
    return None


REASON = _sandbox_reason()
pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


@dataclass
class Listener:
    """A TCP listener on loopback that counts connections."""

    port: int
    connections: int = 0


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    state = Listener(server.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            state.connections += 1
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield state
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A path outside every workspace that attacks try to create."""
    folder = tmp_path_factory.mktemp("canary")
    folder.chmod(0o777)  # even world-writable, the sandbox must not reach it
    return folder / "pwned.txt"


def leftover_processes() -> list[str]:
    """Command lines of live processes carrying the attack marker (excluding this test process)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if MARK in cmd or MARK.encode() in environ:
            found.append(f"{pid}: {cmd[:120]}")
    return found


def make_submission(dest: Path, *, at_import: str = "", in_affine_forward: str = "",
                    files: dict[str, str] | None = None) -> Path:
    """Copy the base submission and plant attack code.

    ``at_import`` runs when cs231n/layers.py is imported; ``in_affine_forward`` runs at the start of
    every affine_forward call (which most checks use).
    """
    shutil.copytree(BASE, dest)
    layers = dest / "cs231n" / "layers.py"
    code = layers.read_text()
    if in_affine_forward:
        body = "\n".join("    " + line for line in in_affine_forward.strip("\n").splitlines())
        code += (f"\n\n_nng_original_affine_forward = affine_forward\n\n"
                 f"def affine_forward(x, w, b):\n{body}\n    return _nng_original_affine_forward(x, w, b)\n")
    if at_import:
        code = at_import.strip("\n") + "\n" + code
    layers.write_text(code)
    for rel, text in (files or {}).items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return dest


def write_zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            z.writestr(info, data)
    return path


def grade(paths: list[Path], out: Path, **limits: float) -> list[dict]:
    """Grade under bwrap with tight limits; returns the results.json documents in input order."""
    from grader import api
    from grader.sandbox import Limits

    settings = {"check_seconds": 3.0, "submission_seconds": 60.0, "cpu_seconds": 20,
                "memory_bytes": 768 * 1024**2, "max_processes": 32, "output_bytes": 16 * 1024, **limits}
    results = api.grade(paths, out=out, assignment="cs231n-2021", sandbox="bwrap", limits=Limits(**settings))
    return [json.loads((out / r.name / "results.json").read_text()) for r in results]


@pytest.fixture(scope="session")
def base_score(tmp_path_factory: pytest.TempPathFactory) -> float:
    if REASON is not None:
        pytest.skip(REASON)
    (doc,) = grade([BASE], tmp_path_factory.mktemp("base-out"))
    assert 0 < doc["score"] < doc["max_score"], "the base must be wrong but harmless"
    return float(doc["score"])


@pytest.fixture
def attack(tmp_path: Path, canary: Path, listener: Listener, base_score: float):
    """Grade one attack and check the invariants every attack must satisfy."""

    def run(*, expect_in_report: str | None = None, **plant: object) -> dict:
        sub = make_submission(tmp_path / "attack", **plant)  # type: ignore[arg-type]
        (doc,) = grade([sub], tmp_path / "out")
        text = json.dumps(doc)
        assert doc["score"] <= base_score
        assert doc["isolation"] == "bwrap"
        if expect_in_report:
            assert expect_in_report in text, f"report does not name the effect {expect_in_report!r}"
        assert LEAK not in text
        assert not canary.exists(), "the attack wrote outside the sandbox"
        assert listener.connections == 0, "the attack reached a loopback listener"
        assert leftover_processes() == []
        return doc

    run.canary = canary  # type: ignore[attr-defined]
    run.port = listener.port  # type: ignore[attr-defined]
    return run
