"""The service's graders: N worker threads, each grading one job at a time in a child process.

A thread takes the oldest queued job (``Jobs.claim``), starts a fresh child process for it
(``forkserver``: the service runs threads, and forking a threaded process is unsafe; a fork of
the single-threaded server that has the grader imported already starts a job in milliseconds
where ``spawn`` took a second to import it again) that grades it
with the pipeline in the sandbox (``grader.service.grading``), and stores what comes back. A
crash of a grading therefore never takes the service down: a child that dies (the OOM killer, a
native crash, ``kill -9``) or runs past ``ServiceLimits.job_seconds`` costs its job one attempt
(``Jobs.lost``: queued again, or failed after ``MAX_ATTEMPTS`` with the reason), and the thread
goes on with the next job. A result is stored for the attempt that produced it only, so a job
retried after a lost attempt is finalised exactly once.

``stop`` (the service shutting down) interrupts the children (SIGINT: their sandboxes are torn
down), gives their attempts back and joins the threads. If the service is killed instead, its
children get SIGINT from the kernel, and the next start queues their jobs again
(``Jobs.requeue_dead``).

Where a job is graded is the pool's ``Runner``: ``LocalRunner`` (the child process above, the
default) or ``grader.service.dask_runner.DaskRunner`` (``--executor dask``: a task on a Dask
cluster). The threads, the jobs table and what is stored are the same for both.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from grader.service.grading import child_main, failure
from grader.service.jobs import MAX_ATTEMPTS, Claimed, Jobs
from grader.service.limits import ServiceLimits

__all__ = ["LocalRunner", "Outcome", "Runner", "WorkerPool"]

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""How often an idle worker looks for jobs without being woken, and a busy one at ``stop``."""
GRACE_SECONDS = 10.0
"""How long an interrupted child may take to tear its sandboxes down before it is killed."""


@functools.cache
def _context() -> multiprocessing.context.SpawnContext | multiprocessing.context.ForkServerContext:
    """Job children forked from a server that imported the grader once; ``spawn`` where there
    is no fork server (not POSIX)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["grader.service.grading"])
    return context


Outcome = tuple[Any, str]
"""What became of one attempt: ``(("ok", document) or ("error", message), "")``, or ``(None,
why)`` without a result: ``stopped`` (the service is stopping), ``timeout`` (past
``ServiceLimits.job_seconds``) or, in words, how the grading was lost."""


class Runner(Protocol):
    """Where the pool's threads grade a job (one call per attempt, from several threads)."""

    def grade(self, job: Claimed, stopping: threading.Event) -> Outcome:
        """Grade ``job``: wait for it, ``stopping`` looked at all the while."""

    def running(self) -> dict[str, int]:
        """Job id -> the pid of the process grading it, where there is one on this machine."""

    def close(self) -> None:
        """Release what the runner holds (the pool's threads have ended)."""


class LocalRunner:
    """Each attempt in a child process of its own (``forkserver``), killed past the limit."""

    def __init__(self, *, sandbox: str, limits: ServiceLimits) -> None:
        """``sandbox``: ``auto``, ``bwrap`` or ``process``, as each child resolves it."""
        self._sandbox, self._limits = sandbox, limits
        self._children: dict[str, BaseProcess] = {}
        self._guard = threading.Lock()

    def running(self) -> dict[str, int]:
        """Job id -> the pid of the child grading it (what an operator or a test may kill)."""
        with self._guard:
            return {job: p.pid for job, p in self._children.items() if p.pid is not None}

    def close(self) -> None:
        """Nothing is held between jobs."""

    def grade(self, job: Claimed, stopping: threading.Event) -> Outcome:
        """Grade ``job`` in a child process; what it sent, or why nothing."""
        context = _context()
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=child_main,
            args=(send, job, self._sandbox, self._limits.extract()),
            name=f"nngrader-job-{job.id}",
        )  # fmt: skip
        process.start()
        send.close()  # the child's end: our recv sees EOF once the child is gone
        with self._guard:
            self._children[job.id] = process
        try:
            return self._outcome(process, receive, stopping)
        finally:
            with self._guard:
                del self._children[job.id]
            _end(process)
            receive.close()

    def _outcome(
        self, process: BaseProcess, conn: Connection, stopping: threading.Event
    ) -> Outcome:
        """What the child sent (None if nothing) and, without it, why: ``stopped``, ``timeout``
        or how the child died."""
        deadline = time.monotonic() + self._limits.job_seconds
        while True:
            if stopping.is_set():
                return None, "stopped"
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            if wait([conn, process.sentinel], min(left, POLL_SECONDS)):
                with contextlib.suppress(EOFError, OSError):
                    if conn.poll():
                        return conn.recv(), ""
                process.join()
                return None, _death(process)


class WorkerPool:
    """``workers`` threads grading the jobs of ``jobs`` with ``runner``; ``start``, ``wake``,
    ``stop``."""

    def __init__(self, jobs: Jobs, *, workers: int, limits: ServiceLimits, runner: Runner) -> None:
        self._jobs, self._workers, self._limits, self._runner = jobs, workers, limits, runner
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker threads."""
        for i in range(self._workers):
            thread = threading.Thread(target=self._loop, name=f"nngrader-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A job was queued: an idle worker takes it now rather than at its next look."""
        self._wake.set()

    def stop(self) -> None:
        """Interrupt what is graded (its attempt given back), end the threads, close the
        runner."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._runner.close()

    def running(self) -> dict[str, int]:
        """Job id -> the pid of the process grading it on this machine (``Runner.running``)."""
        return self._runner.running()

    # -- a worker thread -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = self._jobs.claim()
                if claimed is None:
                    self._wake.wait(POLL_SECONDS)
                    self._wake.clear()
                    continue
                outcome, why = self._runner.grade(claimed, self._stopping)
                self._store(claimed, outcome, why)
            except Exception:  # a broken database must not end the worker silently
                logger.exception("a service worker failed; it goes on")
                time.sleep(POLL_SECONDS)

    def _store(self, job: Claimed, outcome: Any, why: str) -> None:
        if why == "stopped":
            self._jobs.release(job.id, job.attempt)
        elif outcome is not None and outcome[0] == "ok":
            self._jobs.finalise(job.id, job.attempt, outcome[1], failed=False)
        elif outcome is not None:
            failed = failure(job.name, job.assignment, str(outcome[1]))
            self._jobs.finalise(job.id, job.attempt, failed, failed=True)
        else:
            if why == "timeout":
                why = f"its grading ran past the service's limit of {self._limits.job_seconds:g} s"
            last = failure(job.name, job.assignment, f"not graded ({MAX_ATTEMPTS} tries): {why}")
            if not self._jobs.lost(job.id, job.attempt, why, last):
                logger.warning("job %s was not graded: %s", job.id, why)


def _death(process: BaseProcess) -> str:
    """How a grading child ended without a result, in words."""
    code = process.exitcode
    if code is not None and code < 0:
        return f"its grading process was killed by {signal.Signals(-code).name}"
    return f"its grading process exited with code {code}"


def _end(process: BaseProcess) -> None:
    """Stop ``process`` if it still runs: SIGINT (its sandboxes are torn down), then SIGKILL."""
    if process.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid or 0, signal.SIGINT)
        process.join(GRACE_SECONDS)
    if process.is_alive():
        process.kill()
    process.join()
    with contextlib.suppress(ValueError):
        process.close()
