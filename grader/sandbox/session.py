"""Host side of the check protocol: one child process per submission, restarted when needed.

The child runs the student's code inside the sandbox; this module sends it requests, waits with
a deadline, and turns every way a child can misbehave (raising, hanging, dying, printing garbage
on the channel, returning a huge array) into an exception the check engine reports. Nothing that
comes back is trusted beyond being plain data of bounded size, and every string in it (reply
values, error fields, printed output) is passed through ``grader.sanitize`` here, on arrival, so
no later stage or view ever holds raw student text.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from grader import sanitize
from grader.child import protocol
from grader.errors import StudentCrashed, StudentTimeout, student_raised
from grader.sandbox.bytecode import precompile
from grader.sandbox.channel import Channel, start_child
from grader.sandbox.limits import Limits

__all__ = ["Launcher", "ProtocolBroken", "Session", "SessionConfig", "read_output"]

_ERROR_TEXT = ("kind", "type", "message")
"""Fields of an error reply that are one line of text (``traceback`` keeps its lines)."""


class ProtocolBroken(StudentCrashed):
    """The child's reply broke the protocol. The message quotes what the reply said (sizes, names:
    values the child chose); ``summary`` says the same in the grader's words only."""

    summary = "the student's process broke the protocol"


class Launcher(Protocol):
    """What the runner needs from a sandbox (see ``grader.sandbox.Sandbox``)."""

    isolation: str

    def spawn(
        self,
        argv: Sequence[str],
        *,
        pass_fds: Sequence[int] = (),
        stdout_path: Path,
        stdio: tuple[int, int] | None = None,
    ) -> Any:
        """Start ``argv``; ``stdio`` (given only where no descriptor can be passed,
        ``grader.sandbox.channel``) becomes its stdin and stdout, its stderr ``stdout_path``."""

    def kill_all(self) -> None: ...

    def limit_hit(self) -> str | None: ...


@dataclass
class SessionConfig:
    """Everything needed to (re)start a submission's child."""

    runtime: Path
    workspace: Path
    modules: Mapping[str, str]
    compat: bool
    output_path: Path
    max_payload: int = protocol.MAX_PAYLOAD
    """Largest reply payload, and what the values of a reply may weigh as arrays (``decode``)."""


class Session:
    """A live conversation with one submission's child process."""

    def __init__(self, config: SessionConfig, launcher: Launcher) -> None:
        self.config = config
        self.launcher = launcher
        self._proc: Any = None
        self._channel: Channel | None = None
        self._next_id = 0
        self._compiled = False
        self.starts = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def _start(self, deadline: float) -> None:
        if not self._compiled:  # the harness's bytecode, once: the child cannot write it
            precompile(self.config.runtime / "nngrader_child")
            self._compiled = True
        # Not -I: after the sandbox drops to another uid, Python finds its prefix only through
        # PYTHONHOME, which the sandbox sets in an otherwise clean environment. -S: no site module
        # (no .pth or sitecustomize processing, and 20 ms faster); numpy's folder comes from the
        # sandbox's PYTHONPATH. -B: nothing is written (the runtime's pycs are still read).
        argv = [
            sys.executable,
            "-S",
            "-B",
            str(self.config.runtime / "nngrader_child" / "__main__.py"),
        ]  # the channel's arguments follow (``start_child``)
        self._proc, self._channel = start_child(self.launcher.spawn, argv, self.config.output_path)
        self.starts += 1
        self._exchange(
            "init",
            deadline,
            workspace=str(self.config.workspace),
            modules=dict(self.config.modules),
            compat=self.config.compat,
        )

    def stop(self) -> None:
        """Kill the child and everything it started (it has flushed its output after every
        request, so nothing is lost), and close the channel."""
        if self._proc is not None:
            self.launcher.kill_all()
            # Already killed: a child that still has not exited is left to the sandbox's sweep.
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=5)
        if self._channel is not None:
            self._channel.close()
        self._proc, self._channel = None, None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- requests -------------------------------------------------------------------------------

    def request(
        self,
        op: str,
        deadline: float,
        arrays: Mapping[str, np.ndarray] | None = None,
        **fields: Any,
    ) -> Any:
        """Send one request and return the decoded reply value.

        Raises:
            StudentRaised, StudentTimeout, StudentCrashed.
        """
        if not self.alive:
            self.stop()
            self._start(deadline)
        return self._exchange(op, deadline, arrays, **fields)

    def _exchange(
        self,
        op: str,
        deadline: float,
        arrays: Mapping[str, np.ndarray] | None = None,
        **fields: Any,
    ) -> Any:
        self._next_id += 1
        header = {"op": op, "id": self._next_id, **fields}
        channel = self._channel
        if channel is None:  # ``_start`` made one, and only ``stop`` removes it
            raise StudentCrashed("the student's process is not running")
        try:
            channel.send(protocol.pack(header, dict(arrays or {})), deadline)
            reply, out_arrays = channel.receive(deadline, self.config.max_payload)
        except protocol.ChannelTimeout:
            self.stop()
            raise StudentTimeout("no answer before the deadline") from None
        except (protocol.ProtocolError, OSError) as exc:
            crash = self._death_reason(exc)
            self.stop()
            raise crash from None
        if reply.get("id") != self._next_id:
            self.stop()
            raise StudentCrashed(
                "the student's process wrote something else on the grader's channel"
            )
        if not reply.get("ok"):
            error = _error_fields(reply.get("error"))
            raise student_raised(error, limit=self._limit_of(error))
        try:
            # Popped: the raw JSON is freed as soon as it is decoded, before the sanitized copy.
            value = protocol.decode(
                reply.pop("value", None), out_arrays, max_bytes=self.config.max_payload
            )
        except protocol.ProtocolError as exc:
            self.stop()
            # Every decode error is worded by the protocol (its limits, the tags' names).
            raise ProtocolBroken(sanitize.text(f"{ProtocolBroken.summary}: {exc}")) from None
        return sanitize.value(value)

    def _limit_of(self, error: Mapping[str, Any]) -> str | None:
        """The sandbox limit behind an exception the child reported, if any (from its errno).

        A full capture file means the printed output ran into the file size limit: every later
        ``print`` of the submission fails the same way, so the report says so.
        """
        limits = getattr(self.launcher, "limits", None)
        if not isinstance(limits, Limits):
            return None
        limit = limits.limit_of_error(f"{error.get('message', '')}\n{error.get('traceback', '')}")
        if limit == limits.file_size_message() and self.output_size() >= limits.max_file_bytes:
            limit += " by the printed output"
        return limit

    def _death_reason(self, exc: Exception) -> StudentCrashed:
        """Explain why the channel broke: exit code, signal, or the limit that was hit."""
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=2)
            except Exception:
                code = None
        limit = self.launcher.limit_hit()
        if limit:
            return StudentCrashed(f"the student's process was stopped: {limit}")
        if code is None:
            # The error quotes the frame the child wrote (its sizes, its JSON): the child's words.
            return ProtocolBroken(sanitize.text(f"{ProtocolBroken.summary} ({exc})"))
        if code < 0:
            return StudentCrashed(f"the student's process was killed by signal {-code}")
        return StudentCrashed(f"the student's process exited with code {code}")

    def output_size(self) -> int:
        try:
            return self.config.output_path.stat().st_size
        except OSError:
            return 0

    def output_since(self, offset: int, limit: int) -> str:
        """What the child printed since ``offset`` (``read_output``)."""
        return read_output(self.config.output_path, offset, limit)


def read_output(path: Path, offset: int, limit: int) -> str:
    """What a child printed to ``path`` since ``offset`` (at most ``limit`` bytes, the tail),
    as sanitized text (``grader.sanitize.decode``: newlines and tabs kept)."""
    try:
        with path.open("rb") as f:
            start = max(offset, os.fstat(f.fileno()).st_size - limit)
            f.seek(start)
            data = f.read(limit)
    except OSError:
        return ""
    text = sanitize.decode(data)
    # Escapes make text longer than its bytes: the limit holds for what is kept, too.
    truncated, text = start > offset or len(text) > limit, text[-limit:]
    return f"[... output truncated ...]\n{text}" if truncated else text


def _error_fields(error: Any) -> dict[str, str]:
    """The fields of an error reply as sanitized text (a malformed error is an empty one).

    A field that is not a string is left out, never ``str()``-ed: it could be JSON nested
    hundreds of levels deep (``repr`` would hit the recursion limit) or millions of values long.
    """
    if not isinstance(error, dict):
        return {}
    fields = {k: sanitize.text(error[k]) for k in _ERROR_TEXT if isinstance(error.get(k), str)}
    if isinstance(error.get("traceback"), str):
        fields["traceback"] = sanitize.printed(error["traceback"])
    return fields
