"""The grading process's end of the check protocol with one child (``start_child``).

Two transports behind one interface (``Channel``: ``send`` a frame's bytes by a deadline,
``receive`` a frame by a deadline, ``close``):

* ``PipeChannel``, wherever the grader really runs (POSIX): two pipes the child inherits besides
  its stdio (``pass_fds``), with its stdout and stderr going to the capture file; the grading
  process waits on them with ``select``.
* ``StdioChannel``, where ``facilities.has_posix_fds`` is false (Windows, or simulated). Windows
  hands a child no descriptor but stdin, stdout and stderr, and its ``select`` waits on sockets
  only. So the protocol travels on the child's stdin and stdout (the child takes them over before
  any student code runs, ``grader.child.channel``; its stderr is the capture file), and threads
  do the waiting: a reader thread feeds a bounded queue that ``receive`` takes from until the
  deadline, and each ``send`` writes in a thread that is waited for until the deadline.

Either way a deadline that passes raises ``protocol.ChannelTimeout`` and a child that is gone
``protocol.ChannelClosed`` or ``OSError``; the session then kills the child and closes the channel.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from grader.child import protocol
from grader.child.channel import STDIO
from grader.sandbox.facilities import has_posix_fds

__all__ = ["Channel", "PipeChannel", "StdioChannel", "start_child"]

CHUNK = 1 << 20
"""Largest read from the child's stdout at a time."""
QUEUED_CHUNKS = 8
"""Chunks the reader thread may hold that nobody asked for yet: a child that floods its stdout
costs the grading process at most this much memory (it then blocks in its write, as on a pipe)."""
_POLL = 0.1
"""How often a reader thread with a full queue looks whether its channel was closed."""

Frame = tuple[dict[str, Any], dict[str, np.ndarray]]


class Channel(Protocol):
    """The grading process's end of one child's protocol stream."""

    def send(self, data: bytes, deadline: float) -> None: ...

    def receive(self, deadline: float, max_payload: int) -> Frame: ...

    def close(self) -> None: ...


def start_child(
    spawn: Callable[..., Any], argv: Sequence[str], output_path: Path
) -> tuple[Any, Channel]:
    """Start the harness ``argv`` (its command without the channel's arguments) through a
    launcher's ``spawn`` and return the process with the grading process's end of its channel.

    Raises:
        Whatever ``spawn`` raised (every pipe is closed first).
    """
    posix = has_posix_fds()
    req_r, req_w = os.pipe()
    res_r, res_w = os.pipe()
    try:
        if posix:
            command = [*argv, str(req_r), str(res_w)]
            proc = spawn(command, pass_fds=(req_r, res_w), stdout_path=output_path)
        else:
            proc = spawn([*argv, STDIO], stdio=(req_r, res_w), stdout_path=output_path)
    except BaseException:
        os.close(req_w)
        os.close(res_r)
        raise
    finally:  # the child's ends: it holds them now
        os.close(req_r)
        os.close(res_w)
    return proc, PipeChannel(req_w, res_r) if posix else StdioChannel(req_w, res_r)


class PipeChannel:
    """Two pipes of the child's own, waited on with ``select``."""

    def __init__(self, req_w: int, res_r: int) -> None:
        self._req_w, self._res_r = req_w, res_r
        os.set_blocking(req_w, False)

    def send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self._req_w], [], left)[1]:
                raise protocol.ChannelTimeout("the student's process stopped reading")
            try:
                n = os.write(self._req_w, view)
            except BlockingIOError:
                continue
            view = view[n:]

    def receive(self, deadline: float, max_payload: int) -> Frame:
        return protocol.read_frame(self._res_r, deadline=deadline, max_payload=max_payload)

    def close(self) -> None:
        for fd in (self._req_w, self._res_r):
            if fd >= 0:
                os.close(fd)
        self._req_w = self._res_r = -1


class StdioChannel:
    """The child's stdin and stdout, waited on by threads (no ``select`` on pipes).

    Each descriptor is closed by whoever uses it last, never under a thread that still uses it
    (the number could be reused meanwhile): the reader thread alone reads and closes the child's
    stdout, and the request pipe is closed by ``close`` or, when a write is still running then
    (a program the student started kept the pipe open), by that write's thread when it ends.
    """

    def __init__(self, req_w: int, res_r: int) -> None:
        self._req_w = req_w
        self._lock = threading.Lock()
        self._writing = self._closed = False
        self._stopped = threading.Event()
        self._chunks: queue.Queue[bytes] = queue.Queue(QUEUED_CHUNKS)
        self._pending = b""
        self._eof = False
        threading.Thread(
            target=self._pump, args=(res_r,), name="nngrader-channel-reader", daemon=True
        ).start()

    # -- sending ---------------------------------------------------------------------------------

    def send(self, data: bytes, deadline: float) -> None:
        failed: list[OSError] = []
        writer = threading.Thread(
            target=self._write, args=(data, failed), name="nngrader-channel-writer", daemon=True
        )
        with self._lock:
            self._writing = True
        writer.start()
        writer.join(max(deadline - time.monotonic(), 0))
        if writer.is_alive():
            raise protocol.ChannelTimeout("the student's process stopped reading")
        if failed:
            raise failed[0]

    def _write(self, data: bytes, failed: list[OSError]) -> None:
        """A writer thread: all of ``data``, or the error that stopped it."""
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._req_w, view) :]
        except OSError as exc:
            failed.append(exc)
        finally:
            with self._lock:
                self._writing = False
                if self._closed:
                    self._close_requests()

    # -- receiving -------------------------------------------------------------------------------

    def receive(self, deadline: float, max_payload: int) -> Frame:
        return protocol.read_frame_from(lambda n: self._read(n, deadline), max_payload=max_payload)

    def _read(self, n: int, deadline: float) -> bytes:
        """Exactly ``n`` bytes of the child's stdout, from what the reader thread queued."""
        parts: list[bytes] = []
        while n > 0:
            if not self._pending:
                self._pending = self._next_chunk(deadline)
            part, self._pending = self._pending[:n], self._pending[n:]
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    def _next_chunk(self, deadline: float) -> bytes:
        left = deadline - time.monotonic()
        if self._eof:
            raise protocol.ChannelClosed("the student's process closed the channel")
        try:
            if left <= 0:
                raise queue.Empty
            chunk = self._chunks.get(timeout=left)
        except queue.Empty:
            raise protocol.ChannelTimeout("no reply before the deadline") from None
        if not chunk:
            self._eof = True
            raise protocol.ChannelClosed("the student's process closed the channel")
        return chunk

    def _pump(self, fd: int) -> None:
        """The reader thread: the child's stdout into the queue until its end (b"" marks it)."""
        try:
            while True:
                try:
                    chunk = os.read(fd, CHUNK)
                except OSError:
                    chunk = b""
                if not self._put(chunk) or not chunk:
                    return
        finally:
            os.close(fd)

    def _put(self, chunk: bytes) -> bool:
        """Queue ``chunk``, waiting while the queue is full; False once the channel is closed."""
        while not self._stopped.is_set():
            try:
                self._chunks.put(chunk, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    # -- closing ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop using the channel (the child is killed first: its end of each pipe is gone)."""
        self._stopped.set()
        with self._lock:
            self._closed = True
            if not self._writing:
                self._close_requests()

    def _close_requests(self) -> None:
        if self._req_w >= 0:
            os.close(self._req_w)
            self._req_w = -1
