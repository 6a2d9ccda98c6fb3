"""Fanning a batch out (one after the other, or to worker processes) and stopping it on Ctrl-C.

``grader.api.grade`` hands each submission's grading here as a job. The runners give each
result to ``done`` the moment it is graded, so whatever finished is written before Ctrl-C, a
crash or a setup error ends a batch.

Ctrl-C (SIGINT) reaches the whole foreground process group: the grading process and its pool
workers, but not the sandboxed children, which lead sessions of their own (``Sandbox.spawn``).
So each process that grades tears down its own sandboxes as ``KeyboardInterrupt`` unwinds the
pipeline (the ``Sandbox`` context managers kill every process a submission started), and
``kill_leftovers`` catches what an interrupt at an unlucky moment left; ``Stop`` decides where
the signal may raise, so that nothing half-written, no worker's traceback and no second Ctrl-C
spoils that.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from grader.results import SubmissionResult
from grader.sandbox.launch import REAP_SECONDS

__all__ = ["Stop", "kill_leftovers", "killing_leftovers", "parallel", "serial"]

_Job = Callable[[], SubmissionResult]
"""One submission's grading (``_grade_job`` with its arguments)."""
_Begin = Callable[[int], None]
_Done = Callable[[int, SubmissionResult], None]
_POLL_SECONDS = 0.2
"""How often the parent looks at the Ctrl-C flag while workers grade (``parallel``)."""
_worker_stop: Stop | None = None
"""A pool worker's Ctrl-C flag (``_worker_start``)."""


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


def parallel(batch: Sequence[_Job], stop: Stop, begin: _Begin, done: _Done, *, jobs: int) -> None:
    """Grade in ``jobs`` worker processes, each result handed to ``done`` as it finishes.

    Processes, not threads: the reference consumes the global legacy ``np.random``. At most
    ``jobs`` submissions are handed out at a time, so ``begin`` tells which are being graded and
    Ctrl-C finds nothing queued. On Ctrl-C, or a setup error from one submission, the workers
    are interrupted too (a terminal sent them SIGINT already, ``kill -INT`` of this process did
    not); the parent waits until each has torn its sandboxes down, writing what still finished.
    """
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, initializer=_worker_start)
    running: dict[concurrent.futures.Future[SubmissionResult], int] = {}
    try:
        for i, job in enumerate(batch):
            while len(running) >= jobs and not stop.requested:
                _collect(running, stop, done, _POLL_SECONDS)
            if stop.requested:
                break
            # A worker forked now starts with SIGINT held (``_worker_start`` lets it in).
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                running[pool.submit(_worker_job, job)] = i
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
            begin(i)
        while running and not stop.requested:
            _collect(running, stop, done, _POLL_SECONDS)
    finally:
        if running:
            for pid in list(getattr(pool, "_processes", None) or ()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)
            while running:
                _collect(running, stop, done, None)
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(
    running: dict[concurrent.futures.Future[SubmissionResult], int],
    stop: Stop,
    done: _Done,
    timeout: float | None,
) -> None:
    """Hand each finished submission to ``done``. One a worker was interrupted on is not graded
    and stops the batch; once the batch is stopping (``timeout`` None: Ctrl-C or a setup error
    is on its way), any failure only leaves that submission not graded."""
    finished, _ = concurrent.futures.wait(running, timeout, concurrent.futures.FIRST_COMPLETED)
    for future in finished:
        i = running.pop(future)
        try:
            result = future.result()
        except KeyboardInterrupt:
            stop.requested = True
            continue
        except Exception:
            if timeout is None:
                continue
            raise
        done(i, result)


def _worker_start() -> None:
    """A pool worker's first act: Ctrl-C becomes its ``Stop``, then SIGINT is let in (it was
    blocked while the worker was forked, so one sent meanwhile arrives now)."""
    global _worker_stop
    _worker_stop = Stop()
    signal.signal(signal.SIGINT, _worker_stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _worker_job(job: _Job) -> SubmissionResult:
    """A job in a pool worker, interruptible by Ctrl-C while it grades (only then)."""
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
    """This process's children that lead a session of their own."""
    found = set()
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
