"""The service's jobs graded on a Dask cluster (``nngrader serve --executor dask``).

The pool's threads, the jobs table and what is stored stay as they are
(``grader.service.workers``); only where an attempt runs changes. A thread takes its job's
upload in here (intake, into a temporary folder: the same check the upload already passed),
ships the clean copy as bytes (``grader.executors.shipped``) and submits the batch's own task
(``grader.executors.cluster.grade_task``: the pipeline in the sandbox, on whichever worker the
scheduler picks); the plain instructor.json document comes back and is finalised as a local
child's is. The cluster is the batch's too: a ``LocalCluster`` of ``--workers`` processes, or
the scheduler at ``--scheduler``, fitted and checked the same way before the service starts
(``allowed-failures = 0``: a worker that dies while grading turns its task into
``KilledWorker`` at once, and the service counts the attempt, as for a local child that died).

What becomes of an attempt: a document, ``("ok", document)``; a setup error on the worker (a
``GraderError``), ``("error", message)``: the job fails with it; a worker that died, a result
lost with its worker, or anything else the cluster answers: a lost attempt (queued again, or
failed after ``MAX_ATTEMPTS``) with the reason; past ``ServiceLimits.job_seconds`` from its
submission (the wait for a free worker counts): a lost attempt, the task cancelled. A cancelled
task that already runs cannot be interrupted: it finishes on its worker (the sandbox's own
limits bound it), and its result is dropped (the attempt is no longer the job's).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dask
import distributed

from grader.errors import GraderError
from grader.executors import cluster
from grader.executors.job import Settings
from grader.executors.shipped import Shipped, ship
from grader.service.grading import take_in
from grader.service.jobs import Claimed
from grader.service.limits import ServiceLimits
from grader.service.workers import POLL_SECONDS, Outcome
from grader.spec.registry import get_spec

__all__ = ["DaskRunner", "isolation_for"]

logger = logging.getLogger(__name__)


def isolation_for(sandbox: str, scheduler: str | None) -> str:
    """The sandbox mode the cluster's workers run: resolved here for a ``LocalCluster`` (this
    machine); on a scheduler's workers, ``auto`` is ``bwrap`` (each worker is checked)."""
    if scheduler is None:
        from grader.sandbox import resolve_mode

        return resolve_mode(sandbox)
    return "process" if sandbox == "process" else "bwrap"


class DaskRunner:
    """A ``grader.service.workers.Runner`` whose attempts are tasks on a Dask cluster;
    ``DaskRunner.connect`` makes one."""

    def __init__(self, client: Any, local: Any, *, isolation: str, limits: ServiceLimits) -> None:
        """``local``: the ``LocalCluster`` the runner started (closed with it), or None."""
        self._client, self._local = client, local
        self._isolation, self._limits = isolation, limits

    @classmethod
    def connect(
        cls, *, scheduler: str | None, workers: int, sandbox: str, limits: ServiceLimits
    ) -> DaskRunner:
        """A runner on the scheduler at ``scheduler`` (``tcp://host:port``), or on a new
        ``LocalCluster`` of ``workers`` one-thread processes; the scheduler fitted and every
        worker checked (nngrader's version, the sandbox).

        Raises:
            GraderError: the cluster cannot be reached or is not fit, or the sandbox cannot run.
        """
        isolation = isolation_for(sandbox, scheduler)
        logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
        # In a thread of its own: the service starts inside uvicorn's event loop, and Dask's
        # synchronous client must not be made in a thread that runs one.
        with ThreadPoolExecutor(1, thread_name_prefix="nngrader-dask") as one:
            return one.submit(cls._connect, scheduler, workers, isolation, limits).result()

    @classmethod
    def _connect(
        cls, scheduler: str | None, workers: int, isolation: str, limits: ServiceLimits
    ) -> DaskRunner:
        with dask.config.set(cluster.SCHEDULER_CONFIG):
            client, local = cluster._connect(scheduler, workers)
            runner = cls(client, local, isolation=isolation, limits=limits)
            try:
                cluster._prepare(client, Settings(None, isolation))
            except BaseException:
                runner.close()
                raise
        return runner

    def running(self) -> dict[str, int]:
        """Nothing grades in a process of this machine's that the service owns."""
        return {}

    def close(self) -> None:
        """Close the client, and the ``LocalCluster`` if it is the runner's (its workers kill
        the sandboxes they still run)."""
        self._client.close()
        if self._local is not None:
            self._local.close()

    def grade(self, job: Claimed, stopping: threading.Event) -> Outcome:
        """Grade ``job`` on the cluster; its outcome (``Runner.grade``)."""
        try:
            shipped, settings = self._task(job)
            future = self._client.submit(
                cluster.grade_task, shipped, settings, pure=False, retries=0,
                key=f"nngrader-service-{job.id}-{job.attempt}",
            )  # fmt: skip
        except GraderError as exc:
            return ("error", f"the grader could not run: {exc}"), ""
        except Exception as exc:  # as a local child that crashed: the attempt is lost
            logger.exception("job %s could not be sent to the Dask cluster", job.id)
            return None, f"it could not be sent to the Dask cluster ({type(exc).__name__}: {exc})"
        try:
            return self._outcome(future, stopping)
        finally:
            if not future.done():
                future.cancel()
            future.release()

    def _task(self, job: Claimed) -> tuple[Shipped, Settings]:
        """``job``'s upload taken in and packed, and what it is graded with.

        Raises:
            GraderError: the assignment's spec cannot be read.
        """
        settings = Settings(get_spec(job.assignment), self._isolation)
        with tempfile.TemporaryDirectory(prefix="nngrader-service-") as tmp:
            (submission,) = take_in(job.upload, job.name, Path(tmp), self._limits.extract(),
                                    notes=job.notes)  # fmt: skip
            return ship(submission), settings

    def _outcome(self, future: Any, stopping: threading.Event) -> Outcome:
        """Wait for ``future`` (the stop and the deadline looked at between); what it gave."""
        deadline = time.monotonic() + self._limits.job_seconds
        while not future.done():
            if stopping.is_set():
                return None, "stopped"
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            with contextlib.suppress(TimeoutError):
                distributed.wait([future], timeout=min(left, POLL_SECONDS))  # type: ignore[no-untyped-call]
        return _result(future)


def _result(future: Any) -> Outcome:
    """A finished task's outcome: its document, the grader's setup error, or why it was lost."""
    if future.status == "finished":
        try:
            return ("ok", future.result()), ""
        except Exception as exc:  # the result was lost with its worker, say
            return None, f"its result was lost on the Dask cluster ({type(exc).__name__}: {exc})"
    error = future.exception() if future.status == "error" else None
    if isinstance(error, distributed.KilledWorker):
        where = getattr(error.last_worker, "address", "?")
        return None, f"its Dask worker {where} died while grading it"
    if isinstance(error, GraderError):
        return ("error", f"the grader could not run: {error}"), ""
    return (
        None,
        f"the Dask cluster did not grade it: {future.status} {type(error).__name__}: {error}",
    )
