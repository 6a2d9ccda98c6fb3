"""The check protocol where no pipe can be passed to the child (Windows), and the rest of what
``nngrader check`` needs there.

Windows hands a child no descriptor besides stdin, stdout and stderr, and its ``select`` waits
on sockets only: the protocol then travels on the child's stdin and stdout, waited on by threads
(``grader.sandbox.channel``). Simulated here with ``posix_fds`` in ``NNGRADER_SIMULATE_MISSING``
(with everything else Windows lacks), through the real ``Sandbox`` in process mode. The stdio
streams are the student's too: what the student's code prints must reach the output log and
never a frame.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from grader import api
from grader.child.channel import STDIO
from grader.child.protocol import Encoder
from grader.errors import StudentCrashed, StudentTimeout
from grader.sandbox import Limits, Sandbox, environment
from grader.sandbox.facilities import SIMULATE_ENV
from grader.sandbox.session import Session
from tests.grader.conftest import toy_session_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "cs231n-2021"
WINDOWS = "prctl,resource,fcntl,cgroup,procfs,posix_fds"
LOOKALIKE = b"NNG1\x00\x00\x00\x00\x00\x00\x00\x02{}\x00\x00\x00\x00\x00\x00\x00\x00"
"""A whole, valid frame: read on the channel, it would be taken for a reply."""

TOY = f"""
import os, subprocess, sys

def noisy(n):
    print("x" * n)  # more than a pipe holds
    print('NNG1{{"id": 1, "ok": true, "value": 0}}')
    sys.stdout.flush()
    sys.stdout.buffer.write({LOOKALIKE!r})
    sys.stdout.buffer.flush()
    os.write(1, {LOOKALIKE!r} + b"written to descriptor 1\\n")
    sys.stderr.write("written to stderr\\n")
    subprocess.run([sys.executable, "-S", "-c", "print('printed by a program it started')"])
    return 1.5

def echo(x):
    return x

def read_stdin():
    return sys.stdin.read()

def spin():
    while True:
        pass

def leave():
    os._exit(3)
"""


class Recorder:
    """Wraps ``Sandbox.spawn``: the keywords of every child started."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        spawn = Sandbox.spawn

        def recording(box: Sandbox, argv: Any, **kwargs: Any) -> Any:
            self.calls.append((list(argv), kwargs))
            return spawn(box, argv, **kwargs)

        monkeypatch.setattr(Sandbox, "spawn", recording)

    def all_on_stdio(self) -> bool:
        return bool(self.calls) and all(
            argv[-1] == STDIO and kw.get("stdio") is not None and not kw.get("pass_fds")
            for argv, kw in self.calls
        )


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.setenv(SIMULATE_ENV, WINDOWS)
    return Recorder(monkeypatch)


@pytest.fixture
def session(tmp_path: Path, spawned: Recorder) -> Iterator[Session]:
    config, scratch = toy_session_config(tmp_path, TOY), tmp_path / "scratch"
    scratch.mkdir()
    box = Sandbox(
        mode="process", workspace=config.workspace, scratch=scratch, ro_paths=[config.runtime],
        limits=Limits(),
    )  # fmt: skip
    with box, Session(config, box) as s:
        yield s


def call(session: Session, attr: str, *args: Any, seconds: float = 30) -> Any:
    enc = Encoder()
    fields = {"fn": {"module": "toy", "attr": attr}, "args": list(args), "kwargs": {}}
    encoded = {k: enc.encode(v) for k, v in fields.items()}
    return session.request("call", time.monotonic() + seconds, enc.arrays, **encoded)["value"]


def test_what_the_student_prints_goes_to_the_log_not_the_channel(
    session: Session, spawned: Recorder
) -> None:
    offset = session.output_size()
    assert call(session, "noisy", 200_000) == 1.5
    printed = session.output_since(offset, 1 << 20)
    for line in ('NNG1{"id": 1', "written to descriptor 1", "written to stderr", "started"):
        assert line in printed, printed[-2000:]
    assert printed.count("x" * 1000) == 200
    assert call(session, "read_stdin") == ""  # stdin is empty, as with two pipes
    assert session.starts == 1 and spawned.all_on_stdio(), spawned.calls


def test_large_arrays_cross_both_ways(session: Session) -> None:
    """Larger than the reader thread's queue and than a pipe's buffer, in both directions."""
    x = np.arange(3_000_000, dtype=np.float64)
    np.testing.assert_array_equal(call(session, "echo", x), x)
    assert session.starts == 1


def test_deadlines_and_deaths_on_stdio(session: Session) -> None:
    assert call(session, "echo", 1) == 1
    began = time.monotonic()
    with pytest.raises(StudentTimeout):
        call(session, "spin", seconds=1)
    assert time.monotonic() - began < 10
    with pytest.raises(StudentCrashed, match="exited with code 3"):
        call(session, "leave")
    assert call(session, "echo", 2) == 2  # a fresh child each time
    assert session.starts == 3
    # The dead children's reader threads end (closing their pipes): only the live one is left.
    end = time.monotonic() + 10
    while len(_readers()) > 1 and time.monotonic() < end:
        time.sleep(0.01)
    assert len(_readers()) == 1


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "nngrader-channel-reader"]


def test_a_students_print_is_logged_and_grading_holds(tmp_path: Path, spawned: Recorder) -> None:
    """The bundled correct example, its ReLU printing a lot (and a frame's lookalike)."""
    submission = tmp_path / "correct"
    shutil.copytree(EXAMPLES / "correct", submission)
    layers = submission / "cs231n" / "layers.py"
    noise = textwrap.indent(
        textwrap.dedent(f"""
        import sys
        print("relu " * 20000)
        print("relu says hello")
        sys.stdout.buffer.write({LOOKALIKE!r})
        """),
        "    ",
    )
    text = layers.read_text()
    head = "def relu_forward(x):\n"
    assert head in text
    layers.write_text(text.replace(head, head + noise))
    result = api.check(submission, assignment="cs231n-2021", sandbox="process")
    assert result.error is None and {c.status for c in result.checks} == {"passed"}, [
        (c.check_id, c.status, c.message) for c in result.checks if c.status != "passed"
    ]
    assert "relu says hello" in result.log
    assert any("relu says hello" in c.output for c in result.checks)
    assert spawned.all_on_stdio(), spawned.calls


def test_the_api_imports_and_the_store_refuses_clearly_without_fcntl(tmp_path: Path) -> None:
    """No ``fcntl`` (Windows): ``check`` needs none; the store needs a lock, and says so."""
    code = textwrap.dedent(f"""
        import sys
        sys.modules["fcntl"] = None
        import grader.api
        from grader.errors import GraderError
        from grader.store import Store
        try:
            Store.open(__import__("pathlib").Path({str(tmp_path)!r}))
        except GraderError as exc:
            print(exc)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "no file locks on this machine (no fcntl module)" in done.stdout, done.stderr


def test_the_childs_environment_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Python needs to start on Windows comes along; nothing else of ours does."""
    parent = {"SYSTEMROOT": r"C:\Windows", "PATH": r"C:\Python311;C:\Windows", "TOKEN": "secret"}
    monkeypatch.setattr(environment, "os", SimpleNamespace(name="nt", environ=parent))
    env = environment.child_environment(scratch=tmp_path, pythonpath="np", threads=1, extra={})
    assert env["SYSTEMROOT"] == parent["SYSTEMROOT"] and env["PATH"] == parent["PATH"]
    assert env["TEMP"] == env["TMP"] == env["USERPROFILE"] == str(tmp_path)
    assert "TOKEN" not in env
