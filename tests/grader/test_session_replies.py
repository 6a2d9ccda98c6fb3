"""Forged replies reach the session as a protocol error of that request, never as memory.

A toy student module replaces the child's ``protocol.write_frame`` (student code can: it runs in
the same process as the harness), so the reply that reaches the session is shaped by the student.
"""

from __future__ import annotations

import textwrap
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.child.protocol import Encoder
from grader.errors import StudentRaised
from grader.sandbox.session import ProtocolBroken, Session, SessionConfig
from grader.workspace.stage import stage_runtime
from tests.grader.conftest import PlainLauncher

FORGER = """
import numpy as np
from nngrader_child import protocol

_write = protocol.write_frame


def _forge_once(change):
    def forged(fd, header, arrays):
        protocol.write_frame = _write
        header, arrays = change(dict(header), dict(arrays))
        _write(fd, header, arrays)
    protocol.write_frame = forged


def many_refs(n, size):
    # The reply names one array n times.
    _forge_once(lambda h, a: ({**h, "value": [{"$a": "a0"}] * n}, {"a0": np.zeros(size)}))
    return 0


def nested_error(depth):
    # An error reply whose text fields are deep JSON lists, not strings.
    deep = []
    for _ in range(depth):
        deep = [deep]
    error = {"kind": "raised", "type": "ValueError", "message": deep, "traceback": {"a": deep}}
    _forge_once(lambda h, a: ({"id": h["id"], "ok": False, "error": error}, {}))
    return 0


def fine():
    return np.ones(3)
"""


def session_with(tmp_path: Path, launcher: PlainLauncher, **config: Any) -> Session:
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "forger.py").write_text(textwrap.dedent(FORGER))
    return Session(
        SessionConfig(
            runtime=stage_runtime(tmp_path / "runtime"),
            workspace=ws,
            modules={"forger": "pkg.forger"},
            compat=False,
            output_path=tmp_path / "out.txt",
            **config,
        ),
        launcher,
    )


@pytest.fixture
def session(tmp_path: Path, plain_launcher: PlainLauncher) -> Iterator[Session]:
    with session_with(tmp_path, plain_launcher) as s:
        yield s


def call(session: Session, attr: str, *args: Any) -> Any:
    """The reply to calling ``forger.<attr>(*args)`` (``{"value": ...}`` unless forged)."""
    enc = Encoder()
    fields = {"fn": {"module": "forger", "attr": attr}, "args": list(args), "kwargs": {}}
    encoded = {k: enc.encode(v) for k, v in fields.items()}
    return session.request("call", time.monotonic() + 30, enc.arrays, **encoded)


def test_one_array_named_80000_times_is_a_protocol_error_and_the_next_call_works(
    session: Session,
) -> None:
    """80,000 names of a 4 KiB array would be 312 MiB once compared: refused while decoding,
    the child stopped, and the next request starts a fresh one."""
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolBroken) as info:
            call(session, "many_refs", 80_000, 512)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        "the student's process broke the protocol: the reply's values exceed the 256 MiB limit "
        "on results (every reference to an array counts its size)"
    )
    assert peak < 64 * 2**20, f"refusing the reply cost {peak / 2**20:.0f} MiB"
    np.testing.assert_array_equal(call(session, "fine")["value"], np.ones(3))
    assert session.starts == 2


def test_the_session_applies_its_own_payload_limit_to_the_values(
    tmp_path: Path, plain_launcher: PlainLauncher
) -> None:
    """``SessionConfig.max_payload`` bounds what the values weigh, each name counted."""
    with session_with(tmp_path, plain_launcher, max_payload=2**20) as session:
        assert len(call(session, "many_refs", 60, 2048)) == 60  # 60 x 16 KiB < 1 MiB
        with pytest.raises(ProtocolBroken, match="exceed the 1 MiB limit on results"):
            call(session, "many_refs", 70, 2048)  # 70 x 16 KiB > 1 MiB


def test_error_fields_that_are_not_text_are_left_out(session: Session) -> None:
    """Never ``str()``-ed: deep lists would meet the recursion limit, long ones cost memory."""
    with pytest.raises(StudentRaised) as info:
        call(session, "nested_error", 500)
    assert (info.value.type, info.value.detail, info.value.traceback) == ("ValueError", "", "")
    assert str(info.value) == "ValueError"
