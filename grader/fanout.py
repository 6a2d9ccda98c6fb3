"""Running a batch's jobs one after the other in this process, and stopping a batch on Ctrl-C.

``grader.batch`` hands each submission's grading here as a job (``serial``), or to an executor
(``grader.executors``: worker processes, a cluster). Whatever runs them gives each result to
``done`` the moment it is graded, so whatever finished is stored before Ctrl-C, a crash or a
setup error ends a batch.

Ctrl-C (SIGINT) reaches the whole foreground process group: the grading process and its pool
workers, but not the sandboxed children, which lead sessions of their own (``Sandbox.spawn``).
So each process that grades tears down its own sandboxes as ``KeyboardInterrupt`` unwinds the
pipeline (the ``Sandbox`` context managers kill every process a submission started), and
``kill_leftovers`` catches what an interrupt at an unlucky moment left; ``Stop`` decides where
the signal may raise, so that nothing half-written, no worker's traceback and no second Ctrl-C
spoils that. A worker process starts with ``start_worker`` and runs each job ``in_worker``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from grader.executors import Document
from grader.sandbox.facilities import has_procfs
from grader.sandbox.launch import REAP_SECONDS

__all__ = [
    "Stop",
    "in_worker",
    "kill_leftovers",
    "killing_leftovers",
    "serial",
    "start_worker",
]

_Job = Callable[[], Document]
_Begin = Callable[[int], None]
_Done = Callable[[int, Document], None]
_T = TypeVar("_T")
_worker_stop: Stop | None = None
"""A worker process's Ctrl-C flag (``start_worker``)."""


class Stop:
    """SIGINT as a request to stop, raised as ``KeyboardInterrupt`` only where that is safe.

    Outside ``exposed()`` the signal only sets ``requested``: the batch loop looks at it between
    submissions, the parent never has a result half written, and a pool worker waiting for work
    does not die with a traceback. Inside, the first signal raises ``KeyboardInterrupt`` (the
    grading unwinds through the ``Sandbox`` context managers, which kill the submission's
    processes) and later ones are ignored, so a second Ctrl-C cannot cut that teardown short.
    """

    def __init__(self) -> None:
        self.requested = False
        self._exposed = False

    def __call__(self, signum: int, frame: object) -> None:
        first, self.requested = not self.requested, True
        if first and self._exposed:
            self._exposed = False
            raise KeyboardInterrupt

    @contextmanager
    def exposed(self) -> Iterator[None]:
        """Let the first SIGINT interrupt the block (at once, if one came already)."""
        if self.requested:
            raise KeyboardInterrupt
        self._exposed = True
        try:
            yield
        finally:
            self._exposed = False

    @contextmanager
    def catching(self) -> Iterator[None]:
        """Route SIGINT here (only the main thread can; no other thread receives SIGINT)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


def serial(batch: Sequence[_Job], stop: Stop, begin: _Begin, done: _Done) -> None:
    """Grade in this process, one after the other, until the batch ends or Ctrl-C."""
    for i, job in enumerate(batch):
        if stop.requested:
            return
        begin(i)
        try:
            with stop.exposed():
                result = job()
        except KeyboardInterrupt:
            stop.requested = True
            return
        done(i, result)


def start_worker() -> None:
    """A worker process's first act: Ctrl-C becomes its ``Stop``, then SIGINT is let in (it was
    blocked while the worker was forked, so one sent meanwhile arrives now)."""
    global _worker_stop
    _worker_stop = Stop()
    signal.signal(signal.SIGINT, _worker_stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def in_worker(job: Callable[[], _T]) -> _T:
    """A job in a worker process, interruptible by Ctrl-C while it grades (only then)."""
    with (_worker_stop or Stop()).exposed():
        return job()


@contextmanager
def killing_leftovers() -> Iterator[None]:
    """On ``KeyboardInterrupt`` in the block, ``kill_leftovers`` of what it started."""
    before = _session_leaders()
    try:
        yield
    except KeyboardInterrupt:
        kill_leftovers(spare=before)
        raise


def kill_leftovers(spare: Collection[int] = ()) -> None:
    """After Ctrl-C, kill and reap what the sandbox started and could not kill itself.

    The ``Sandbox`` context managers kill a submission's processes as the interrupt unwinds
    them, but an interrupt can land where they cannot: between starting a child and recording
    it, or inside their own teardown. Every child the sandbox starts leads a session of its own
    (``Sandbox.spawn``), so this process's children that do (except ``spare``: those that were
    there before the grading began, a host program's own) are its: their process groups are
    killed (bubblewrap's namespace dies with its outer process), and they are reaped.
    """
    leaders = [pid for pid in _session_leaders() if pid not in spare]
    for pid in leaders:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    end = time.monotonic() + REAP_SECONDS  # SIGKILLed: gone at once, unless stuck in the kernel
    while leaders and time.monotonic() < end:
        leaders = [pid for pid in leaders if not _reaped(pid)]
        time.sleep(0.01 if leaders else 0)


def _session_leaders() -> set[int]:
    """This process's children that lead a session of their own (none found without /proc:
    macOS, Windows; there Ctrl-C relies on the ``Sandbox`` context managers alone)."""
    found: set[int] = set()
    if not has_procfs():
        return found
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            # After "pid (comm)": state, ppid, pgrp, session.
            if int(fields[1]) == os.getpid() and int(fields[3]) == int(entry):
                found.add(int(entry))
    return found


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:  # someone else waited for it
        return True
