"""The load scenario the service's load test and ``bench/service_latency.py`` share: a cheap
assignment (cs231n-2021 reduced to ``affine_forward``), a course of many students with a token
each, and the service as a real process (what a SIGKILL can end). No pytest in it: the bench
imports it too."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "cs231n-2021"
COURSE_TOKEN = "course-token-cs"  # noqa: S105 - test tokens

TINY = "tiny.toml"
"""The load tests' assignment: a spec file in the service's working folder (a path without a
folder is one URL segment, and ``get_spec`` reads it from the working folder)."""
_TINY_SECTIONS = ("layout.student", "layout.given", "layout.stand_ins", "api", "limits",
                  "tolerance")  # fmt: skip
"""The sections of cs231n-2021.toml the reduced spec keeps as they are."""


def tiny_spec(folder: Path) -> Path:
    """cs231n-2021 reduced to its cheapest check (``affine_forward``), written as
    ``folder/tiny.toml`` (its id ``load-tiny``): one check, no notebooks, no accuracy."""
    from grader.spec import load_spec

    text = (ROOT / "assignments" / "cs231n-2021.toml").read_text(encoding="utf-8")
    # Sections by their header line: "[name]" or "[[name]]" up to the next header.
    blocks = [b for b in re.split(r"(?m)^(?=\[)", text) if b.startswith("[")]
    kept = [b for b in blocks if b.splitlines()[0].strip("[] ") in _TINY_SECTIONS]
    check = next(b for b in blocks if b.startswith("[[checks]]") and '"affine_forward"' in b)
    head = 'schema_version = 1\nid = "load-tiny"\ntitle = "cs231n-2021: affine_forward only"\n'
    part = '[[parts]]\nid = "fc"\ntitle = "FullyConnectedNets.ipynb"\n'
    path = folder / TINY
    path.write_text("\n".join([head, *kept, part, check]), encoding="utf-8")
    load_spec(path)  # a broken reduction fails here, not in 200 gradings
    return path


def tiny_upload(wrong: bool = False) -> bytes:
    """A small submission for the tiny spec: the correct example's layers.py (``wrong``: its
    affine_forward off by one), zipped."""
    layers = (EXAMPLES / "correct" / "cs231n" / "layers.py").read_text(encoding="utf-8")
    if wrong:
        layers += "\n\n_right = affine_forward\n\n\ndef affine_forward(x, w, b):\n" \
                  "    out, cache = _right(x, w, b)\n    return out + 1, cache\n"  # fmt: skip
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cs231n/layers.py", layers)
    return buf.getvalue()


def students_config(folder: Path, count: int, **service: Any) -> tuple[Path, dict[str, str]]:
    """A configuration file in ``folder``: course ``load`` of the tiny spec with ``count``
    students, each with a token of their own (given plain: the service hashes them). Returns
    the file and each student's token."""
    tokens = {f"s{i:03d}": f"token-{i:03d}-{secrets.token_hex(8)}" for i in range(count)}
    limits = {"secret": "load-secret", "max_queue": 10 * count, **service}
    lines = ["[service]", *(f"{k} = {json.dumps(v)}" for k, v in limits.items()), "",
             "[courses.load]", f'assignment = "{TINY}"',
             f'token = "{COURSE_TOKEN}"', "[courses.load.students]",
             *(f'{name} = "{token}"' for name, token in tokens.items())]  # fmt: skip
    path = folder / "service.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``python -m grader serve`` as a real process in ``folder`` (where the tiny spec is), on
    a free port: what a SIGKILL can end."""

    def __init__(self, folder: Path, config: Path, db: Path, workers: int = 2) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "grader", "serve", "--config", str(config), "--db",
                str(db), "--workers", str(workers), "--sandbox", "process", "--port",
                str(self.port)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
            "PYTHONPATH", "")])}  # fmt: skip
        self.log = open(folder / f"serve-{self.port}.log", "wb")
        self.process = subprocess.Popen(argv, cwd=folder, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the service did not start: {self.logged()}")
            time.sleep(0.1)

    def logged(self) -> str:
        self.log.flush()
        return (self.folder / f"serve-{self.port}.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown, no attempt given back (the grading children die with it)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
