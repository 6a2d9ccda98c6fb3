"""Worker processes on this machine that survive each other's death (``--jobs N``).

``concurrent.futures.ProcessPoolExecutor`` fails every pending job once one worker dies
(``BrokenProcessPool``): one student's code that takes its worker down (the kernel's OOM killer,
a crash in numpy, an operator's ``kill -9``) would cost the whole batch. Here each worker has a
pipe of its own and takes one job at a time; a worker that dies is noticed by its process
sentinel, the job it held is reported ``lost`` (the store counts the attempt and says whether to
run it again) and a fresh worker is forked for the next job. The others go on.

Processes, not threads: the reference consumes the global legacy ``np.random``. Workers are
forked (they inherit the parsed specs and whatever the parent set up) with SIGINT held until
their Ctrl-C handler is in place (``grader.fanout.start_worker``). On Ctrl-C, or a setup error
from one submission, the workers are interrupted too (a terminal sent them SIGINT already,
``kill -INT`` of this process did not); the parent waits until each has torn its sandboxes down,
keeping what still finished. When the parent dies (SIGKILL), each worker gets SIGINT from the
kernel (``PR_SET_PDEATHSIG``): it tears down what it grades and exits, leaving nothing running.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from grader import fanout
from grader.errors import GraderError
from grader.executors import Events
from grader.executors.job import Document

__all__ = ["parallel"]

Job = Callable[[], Document]
POLL_SECONDS = 0.2
"""How often the parent looks at the Ctrl-C flag, and an idle worker at its parent, meanwhile."""
EXIT_SECONDS = 10.0
"""How long a worker asked to exit may take before it is killed."""
_PR_SET_PDEATHSIG = 1


@dataclass(eq=False)  # each worker is itself (hashable, found by identity)
class _Worker:
    process: BaseProcess
    conn: Connection
    job: int | None = None
    """The index of the job it grades, None while idle."""


def parallel(batch: Sequence[Job], stop: fanout.Stop, events: Events, *, jobs: int) -> None:
    """Run ``batch`` in ``jobs`` worker processes, telling ``events`` as things happen.

    At most ``jobs`` jobs are handed out at a time, so ``begin`` tells which are being graded
    and Ctrl-C finds nothing queued. A job ``lost`` with a worker is run again first (by a
    fresh worker) when ``events.lost`` says so.

    Raises:
        Exception: what a job raised other than ``KeyboardInterrupt`` (a setup error), once
            every running job has finished or been interrupted.
    """
    workers: list[_Worker] = []
    pending = deque(range(len(batch)))
    try:
        while (pending or _busy(workers)) and not stop.requested:
            while pending and len(_busy(workers)) < jobs:
                i = pending.popleft()
                events.begin(i)
                _hand_out(workers, i, batch[i])
            failure: BaseException | None = None
            for worker, outcome in _finished(workers, POLL_SECONDS):
                held, worker.job = worker.job, None
                if held is None:
                    continue
                if outcome is None:
                    # A worker lost while the batch stops is not the submission's doing.
                    if not stop.requested and events.lost(held, _death(worker.process)):
                        pending.appendleft(held)
                elif outcome[0] == "ok":
                    events.done(held, outcome[1])
                elif isinstance(outcome[1], KeyboardInterrupt):
                    stop.requested = True
                else:
                    failure = failure or outcome[1]
            if failure is not None:
                raise failure
    finally:
        _wind_down(workers, events)


def _busy(workers: Sequence[_Worker]) -> list[_Worker]:
    return [w for w in workers if w.job is not None]


def _hand_out(workers: list[_Worker], i: int, job: Job) -> None:
    """Give job ``i`` to an idle worker, or to a new one (also when the idle one turns out to
    have died: nothing was started, so nothing counts)."""
    for _ in range(2):
        idle = next((w for w in workers if w.job is None and w.process.is_alive()), None)
        worker = idle or _spawn(workers)
        try:
            worker.conn.send(job)
        except (OSError, EOFError):
            _retire(workers, worker)
            continue
        worker.job = i
        return
    raise GraderError("cannot start a worker process to grade in")


def _spawn(workers: list[_Worker]) -> _Worker:
    """Fork a worker; it starts with SIGINT held (``fanout.start_worker`` lets it in)."""
    parent_end, child_end = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(child_end, os.getpid()), name="nngrader-worker"
    )
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    child_end.close()
    worker = _Worker(process, parent_end)
    workers.append(worker)
    return worker


def _finished(
    workers: list[_Worker], timeout: float | None
) -> list[tuple[_Worker, tuple[str, Any] | None]]:
    """The busy workers that finished within ``timeout``: each with its outcome, or None when
    it died grading (it is retired). Idle workers that died are retired too."""
    watched: dict[Any, _Worker] = {w.process.sentinel: w for w in workers}
    watched.update({w.conn: w for w in _busy(workers)})
    ready = wait(list(watched), timeout)
    found: list[tuple[_Worker, tuple[str, Any] | None]] = []
    for worker in dict.fromkeys(watched[r] for r in ready):
        outcome = None
        if worker.job is not None:
            with contextlib.suppress(EOFError, OSError):
                if worker.conn.poll():
                    outcome = worker.conn.recv()
            found.append((worker, outcome))
        if outcome is None and not worker.process.is_alive():
            _retire(workers, worker)
    return found


def _death(process: BaseProcess) -> str:
    """How a worker ended, in words."""
    process.join(EXIT_SECONDS)
    code = process.exitcode
    if code is not None and code < 0:
        return f"its worker process was killed by {signal.Signals(-code).name}"
    return f"its worker process exited with code {code} while grading it"


def _retire(workers: list[_Worker], worker: _Worker) -> None:
    if worker in workers:
        workers.remove(worker)
    worker.conn.close()
    worker.process.join(EXIT_SECONDS)


def _wind_down(workers: list[_Worker], events: Events) -> None:
    """Interrupt what still runs, keep what still finishes, and end every worker."""
    if _busy(workers):
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid or 0, signal.SIGINT)
        while _busy(workers):
            for worker, outcome in _finished(workers, None):
                i, worker.job = worker.job, None
                if outcome is not None and outcome[0] == "ok" and i is not None:
                    events.done(i, outcome[1])
    for worker in workers:
        with contextlib.suppress(OSError, EOFError):
            worker.conn.send(None)
    for worker in list(workers):
        worker.process.join(EXIT_SECONDS)
        if worker.process.is_alive():
            worker.process.kill()
        _retire(workers, worker)


def _serve(conn: Connection, parent: int) -> None:
    """A worker: run each job the parent sends until it sends None or is gone."""
    fanout.start_worker()
    _die_with_parent()
    while True:
        while not conn.poll(POLL_SECONDS):
            if os.getppid() != parent:
                return
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            conn.send(_outcome(job))
        except (OSError, EOFError):
            return


def _outcome(job: Job) -> tuple[str, Any]:
    """``("ok", document)``, or ``("raised", exception)`` in a form the parent can unpickle."""
    try:
        return "ok", fanout.in_worker(job)
    except BaseException as exc:
        try:
            pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, this very moment
        except Exception:
            kind = GraderError if isinstance(exc, GraderError) else RuntimeError
            return "raised", kind(f"{type(exc).__name__}: {exc}")
        return "raised", exc


def _die_with_parent() -> None:
    """Ask the kernel for SIGINT when the parent dies: a worker whose batch was SIGKILLed tears
    its sandboxes down (as on Ctrl-C) instead of grading on for nobody."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
