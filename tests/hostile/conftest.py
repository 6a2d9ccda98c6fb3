"""Hostile submissions: each attack is planted in a wrong-but-harmless submission.

Every attack is graded through the ``hostile`` fixture, which asserts the three invariants:

(a) the attack scores no more than the same wrong code without it (``base_score``);
(b) is the test's own business: where the attack has a visible effect it asserts the check
    message that names it (``Graded.message``);
(c) nothing outside the sandbox changed: the canary path outside the workspace was not written,
    the loopback listener got no connection, a bystander process of ours is still alive, and no
    process of any sandbox uid and no ``nngrader-*`` cgroup is left after grading.

It also asserts that nothing an attack found (``LEAK``) reached ``results.json`` or the
instructor log ``OUT/<name>/output.txt``. The suite needs bubblewrap, root (so that student code
drops to an unprivileged uid) and the cgroup v1 pids and memory controllers; it skips with the
reason elsewhere, and fails instead when ``NNGRADER_REQUIRE_SANDBOX=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox_support import sandbox_problems, sandbox_unusable

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "examples" / "cs231n-2021" / "bug-softmax-no-mean"
ASSIGNMENT = "cs231n-2021"
LEAK = "LEAKED-" + "SECRET"
LEAK_PY = '("LEAKED-" "SECRET")'
"""Python source that evaluates to LEAK without containing it (tracebacks quote source lines)."""
CGROUP_ROOT = Path("/sys/fs/cgroup")
FIRED = "nng-fired"
"""Marker file in the sandbox's scratch dir (the child's cwd, kept across restarts): ``once``."""

LIMITS: dict[str, float] = {
    "check_seconds": 3.0,
    "submission_seconds": 90.0,
    "cpu_seconds": 20,
    "memory_bytes": 768 * 1024**2,
    "max_processes": 32,
    "max_file_bytes": 32 * 1024**2,
    "output_bytes": 16 * 1024,
}
"""Tight limits for every attack (a test may override some)."""


def py_str(text: str) -> str:
    """Python source evaluating to ``text`` without containing it (for secrets and needles)."""
    return f'bytes.fromhex("{text.encode().hex()}").decode()'


def _needles() -> list[str]:
    """Distinctive text of the reference's solution modules and of the specs."""
    found = []
    for name in ("layers", "layer_utils", "optim", "fc_net"):
        first = (ROOT / "reference" / f"{name}.py").read_text().splitlines()[0]
        found.append(first.strip('"').strip())
    for spec in sorted((ROOT / "assignments").glob("*.toml")):
        found.append(spec.read_text().splitlines()[0].strip())
    return [n for n in found if len(n) > 20]


NEEDLES = _needles()
SYSTEM_DIRS = ["/proc", "/sys", "/dev", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"]
"""Folders below / that the searching attacks skip: system files, no secrets."""


# -- is the sandbox usable here? ------------------------------------------------------------------


def _sandbox_reason() -> str | None:
    problems = sandbox_problems()
    if problems:
        return "the sandbox is unusable here: " + "; ".join(problems)
    if not BASE.is_dir():
        return f"base submission {BASE} missing"
    return None


REASON = _sandbox_reason()


unusable = sandbox_unusable


@pytest.fixture(scope="session", autouse=True)
def _sandbox_required() -> None:
    if REASON is not None:
        unusable(REASON)


# -- grading ------------------------------------------------------------------------------------


@dataclass
class Graded:
    """One graded submission: its results.json and its instructor log (output.txt)."""

    doc: dict[str, Any]
    log: str

    @property
    def score(self) -> float:
        return float(self.doc["score"])

    @property
    def report(self) -> str:
        return json.dumps(self.doc, ensure_ascii=False)

    @property
    def everything(self) -> str:
        """All a student or an instructor gets to read."""
        return self.report + "\n" + self.log

    def test(self, check_id: str) -> dict[str, Any]:
        return next(t for t in self.doc["tests"] if t["extra_data"]["check_id"] == check_id)

    def status(self, check_id: str) -> str:
        return str(self.test(check_id)["extra_data"]["status"])

    def message(self, check_id: str) -> str:
        """The check's message; for a check blocked by a module that does not import, followed
        by the submission's output above the checks, where that problem is said once."""
        message = str(self.test(check_id)["output"])
        if message.endswith("(see above)"):
            message += "\n" + str(self.doc.get("output", ""))
        return message

    def names(self, check_id: str, *texts: str, status: str | None = None) -> None:
        """Assert the check's message contains every one of ``texts`` (and its status)."""
        message = self.message(check_id)
        for text in texts:
            assert text in message, f"{check_id}: {text!r} not named in {message[:600]!r}"
        if status is not None:
            assert self.status(check_id) == status, (
                f"{check_id}: status {self.status(check_id)}: {message[:300]!r}"
            )

    def names_any(self, check_id: str, *texts: str) -> None:
        message = self.message(check_id)
        assert any(t in message for t in texts), (
            f"{check_id}: none of {texts} named in {message[:600]!r}"
        )


def grade(paths: list[Path], out: Path, **limits: float) -> list[Graded]:
    """Grade under bwrap with tight limits, in input order."""
    from grader import api

    settings = {**LIMITS, **limits}
    ints = {
        "cpu_seconds",
        "memory_bytes",
        "max_processes",
        "max_file_bytes",
        "output_bytes",
        "max_open_files",
    }
    typed = {k: int(v) if k in ints else v for k, v in settings.items()}
    results = api.grade(paths, out=out, assignment=ASSIGNMENT, sandbox="bwrap", limits=typed)
    return [
        Graded(
            json.loads((out / r.folder / "results.json").read_text()),
            (out / r.folder / "output.txt").read_text(errors="replace"),
        )
        for r in results
    ]


def make_submission(
    dest: Path,
    *,
    at_import: str = "",
    at_end: str = "",
    in_affine_forward: str = "",
    once: bool = True,
    files: dict[str, str] | None = None,
) -> Path:
    """Copy the base submission and plant attack code in its cs231n/layers.py.

    ``at_import`` runs first when the module is imported, ``at_end`` after its definitions;
    ``in_affine_forward`` runs at the start of affine_forward, by default only on the first call
    of the submission (``once``: the first check, affine_forward's own), so that a slow attack
    costs one check's time and the others show that grading went on.
    """
    shutil.copytree(BASE, dest)
    layers = dest / "cs231n" / "layers.py"
    code = layers.read_text()
    if in_affine_forward:
        body = in_affine_forward.strip("\n")
        if once:
            body = (
                f"if not __import__('os').path.exists({FIRED!r}):\n"
                f"    open({FIRED!r}, 'w').close()\n" + _indent(body)
            )
        code += (
            f"\n\n_nng_original_affine_forward = affine_forward\n\n\ndef affine_forward(x, w, b):\n"
            f"{_indent(body)}\n    return _nng_original_affine_forward(x, w, b)\n"
        )
    if at_import:
        code = at_import.strip("\n") + "\n" + code
    if at_end:
        code += "\n\n" + at_end.strip("\n") + "\n"
    layers.write_text(code)
    for rel, text in (files or {}).items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return dest


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.splitlines())


def write_zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            z.writestr(info, data)
    return path


def zip_folder(folder: Path, path: Path) -> Path:
    return write_zip(
        path,
        [
            (p.relative_to(folder).as_posix(), p.read_bytes())
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        ],
    )


@pytest.fixture(scope="session")
def base_score(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Score of the wrong-but-harmless base submission (every attack is planted in a copy)."""
    (base,) = grade([BASE], tmp_path_factory.mktemp("base-out"))
    assert 0 < base.score < base.doc["extra_data"]["max_score"], (
        "the base must be wrong but harmless"
    )
    assert base.doc["extra_data"]["isolation"] == "bwrap"
    assert not any(n in base.everything for n in NEEDLES), "a needle occurs in an honest report"
    return base.score


@dataclass(frozen=True)
class Probe:
    """What a submission's code sees of itself in the sandbox."""

    uid: int
    euid: int
    notes: tuple[str, ...]


@pytest.fixture(scope="session")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Probe:
    """Grade a submission that prints its uid (read back from the instructor log)."""
    folder = tmp_path_factory.mktemp("probe")
    sub = make_submission(
        folder / "probe", at_import="import os\nprint('NNG-PROBE', os.getuid(), os.geteuid())"
    )
    (doc,) = grade([sub], folder / "out")
    found = re.search(r"NNG-PROBE (\d+) (\d+)", doc.log)
    assert found, f"the probe's print is not in output.txt: {doc.log[:300]!r}"
    return Probe(int(found[1]), int(found[2]), tuple(doc.doc["extra_data"]["notes"]))


@pytest.fixture
def unprivileged(probe: Probe) -> None:
    """Guard for kill(-1) and fork bombs: refuse unless student code really runs as a sandbox uid
    (as root without isolation they would take down the test run itself) inside a cgroup."""
    from grader.sandbox.uids import UID_BASE, UID_SLOTS

    if not (
        UID_BASE <= probe.uid < UID_BASE + UID_SLOTS
        and UID_BASE <= probe.euid < UID_BASE + UID_SLOTS
    ):
        unusable(
            f"student code runs as uid {probe.uid}/{probe.euid}, not an unprivileged sandbox uid"
        )
    cgroup_notes = [n for n in probe.notes if "cgroup" in n]
    if cgroup_notes:
        unusable(f"no cgroup for student code: {cgroup_notes[0]}")


# -- invariant (c): nothing outside the sandbox changed ------------------------------------------


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


def _uid_in_use(uid: int) -> bool:
    """Whether a live sandbox (another grader on this machine) holds ``uid``'s lock."""
    from grader.sandbox.uids import LOCK_DIR

    try:
        fd = os.open(LOCK_DIR / f"uid-{uid}.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _sandbox_processes() -> dict[str, int]:
    """Live processes with any uid in the sandbox range: description -> uid."""
    from grader.sandbox.uids import UID_BASE, UID_SLOTS

    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = (
                Path(f"/proc/{pid}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue
        uids = [int(u) for u in fields.get("Uid", "").split()]
        inside = [u for u in uids if UID_BASE <= u < UID_BASE + UID_SLOTS]
        if inside:
            found[f"process {pid} (uid {inside[0]}): {cmd[:160]}"] = inside[0]
    return found


def _sandbox_cgroups() -> dict[str, int | None]:
    """``nngrader-*`` groups in the pids and memory hierarchies: path -> uid (from the name)."""
    found: dict[str, int | None] = {}
    for controller in ("pids", "memory"):
        top = CGROUP_ROOT / controller
        for dirpath, dirnames, _ in os.walk(top):
            depth = len(Path(dirpath).relative_to(top).parts)
            for name in dirnames:
                if name.startswith("nngrader-"):
                    suffix = name.removeprefix("nngrader-")
                    found[os.path.join(dirpath, name)] = int(suffix) if suffix.isdigit() else None
            if depth >= 3:
                dirnames[:] = []
            else:
                dirnames[:] = [d for d in dirnames if not d.startswith("nngrader-")]
    return found


def sandbox_leftovers() -> set[str]:
    """Processes of a sandbox uid and nngrader cgroups, except those of live sandboxes of others."""
    found = {**_sandbox_processes(), **_sandbox_cgroups()}
    return {what for what, uid in found.items() if uid is None or not _uid_in_use(uid)}


def wait_for_no_leftovers(before: set[str], seconds: float = 3.0) -> set[str]:
    """New leftovers that are still there after ``seconds`` (SIGKILLed processes take a moment)."""
    end = time.monotonic() + seconds
    while (left := sandbox_leftovers() - before) and time.monotonic() < end:
        time.sleep(0.1)
    return left


class Hostile:
    """Grades attacks and asserts the invariants (a) and (c); tests assert (b)."""

    def __init__(self, tmp: Path, canary: Path, listener: Listener, base: float) -> None:
        self.tmp = tmp
        self.canary = canary
        self.port = listener.port
        self.base = base
        self.out = tmp / "out"
        self._listener = listener

    def submission(self, name: str = "attack", **plant: Any) -> Path:
        return make_submission(self.tmp / name, **plant)

    def grade(self, *paths: Path, **limits: float) -> list[Graded]:
        """Grade ``paths`` together; check isolation, leaks and invariant (c)."""
        before = sandbox_leftovers()
        # A process of ours that kill(-1) must not reach.
        bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        try:
            docs = grade(list(paths), self.out, **limits)
            left = wait_for_no_leftovers(before)
            assert bystander.poll() is None, "the attack killed a process outside the sandbox"
        finally:
            bystander.kill()
            bystander.wait()
        assert not self.canary.exists(), "the attack wrote outside the sandbox"
        assert self._listener.connections == 0, "the attack reached a loopback listener"
        assert not left, f"left after grading: {sorted(left)}"
        for doc in docs:
            assert doc.doc["extra_data"]["isolation"] == "bwrap"
            assert LEAK not in doc.report, "an attack's find reached results.json"
            assert LEAK not in doc.log, "an attack's find reached output.txt"
            broken = [
                t["extra_data"]["check_id"]
                for t in doc.doc["tests"]
                if "internal grader error" in t["output"]
            ]
            assert not broken, f"the grader itself broke on hostile input in {broken}"
        return docs

    def attack(self, *, limits: dict[str, float] | None = None, **plant: Any) -> Graded:
        """Plant an attack in the base, grade it, and assert it gained nothing (a) and (c)."""
        (doc,) = self.grade(self.submission(**plant), **(limits or {}))
        assert doc.score <= self.base, f"the attack scored {doc.score} > {self.base} without it"
        return doc


@pytest.fixture
def hostile(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, listener: Listener, base_score: float
) -> Hostile:
    canary_dir = tmp_path_factory.mktemp("canary")
    canary_dir.chmod(0o777)  # even world-writable, the sandbox must not reach it
    return Hostile(tmp_path, canary_dir / "pwned.txt", listener, base_score)
