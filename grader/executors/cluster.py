"""Grading on a Dask cluster (``--executor dask``): a scheduler given, or a ``LocalCluster``.

Each task grades one submission shipped as bytes (``grader.executors.shipped``) with the same
pipeline and sandbox as a local worker, and returns the plain instructor.json document; the
process that owns the results store finalises it. Dask is optional (``nngrader[scale]``):
this module imports it, and only a batch that asks for it imports this module.

Worker deaths are counted by the batch, not by Dask: the scheduler is told
``allowed-failures = 0``, so a worker that dies while grading turns its task into
``KilledWorker`` at once; the batch counts the attempt in the store and submits the task again
(a new key) until ``grader.store.MAX_ATTEMPTS``. A retry Dask made on its own would be invisible
to the store. At most as many tasks as the cluster has threads are out at a time, with
``worker-saturation = 1.0``, so a task only waits on the scheduler, never queued behind another
on a worker that could die with it. Before anything is graded every worker must run the same
nngrader version as this process and be able to use the requested sandbox.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import dask
import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from grader import __version__, fanout
from grader.errors import GraderError, SandboxUnavailable
from grader.executors import Events
from grader.executors.job import Document, Settings
from grader.executors.shipped import Shipped, grade_shipped, ship
from grader.intake import Submission

__all__ = ["parallel"]

POLL_SECONDS = 0.2
"""How often the parent looks at its tasks and the Ctrl-C flag."""
CONNECT_SECONDS = 60.0
"""How long to wait for the scheduler, and for a first worker."""
SCHEDULER_CONFIG = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": 1.0,
}
"""What the scheduler must run with (set for a ``LocalCluster``, and on a given scheduler)."""


def parallel(
    submissions: Sequence[Submission],
    settings: Settings,
    stop: fanout.Stop,
    events: Events,
    *,
    scheduler: str | None,
    workers: int,
) -> None:
    """Grade ``submissions`` on the scheduler at ``scheduler`` (``tcp://host:port``), or on a
    ``LocalCluster`` of ``workers`` processes of one thread each, telling ``events``.

    Raises:
        GraderError: the cluster cannot be reached or is not fit (a worker's version or
            sandbox), or a task raised a setup error.
    """
    # The scheduler and nannies of a LocalCluster log here: as much as the user asked for (-v),
    # not the INFO lines Dask sets for itself.
    logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
    with dask.config.set(SCHEDULER_CONFIG):
        client, cluster = _connect(scheduler, workers)
        try:
            _prepare(client, settings)
            # Each worker detects among its own bundled specs (the same version's, checked), so
            # that a task does not carry all of them.
            _run(client, submissions, replace(settings, specs=()), stop, events)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _connect(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    """A client of the scheduler, or of a new ``LocalCluster`` (also returned, to close)."""
    cluster: Any = None
    try:
        if scheduler is None:
            cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                dashboard_address=":0", preload=[__name__], silence_logs=logging.ERROR,
            )  # fmt: skip
        client: Any = distributed.Client(  # type: ignore[no-untyped-call]
            cluster or scheduler, timeout=CONNECT_SECONDS
        )
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise GraderError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
    return client, cluster


def _prepare(client: Any, settings: Settings) -> None:
    """Fit the scheduler and check every worker, before anything is graded."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except TimeoutError:
        raise GraderError(f"no Dask worker joined within {CONNECT_SECONDS:g} s") from None

    def fit_scheduler(dask_scheduler: Any) -> str:
        """``SCHEDULER_CONFIG``, for a scheduler started without it; returns the scheduler's
        nngrader version (it unpickles the tasks). Defined here, so that it travels by value
        and a scheduler without nngrader says so."""
        import grader

        dask_scheduler.allowed_failures = 0
        dask_scheduler.WORKER_SATURATION = 1.0
        return grader.__version__

    try:
        scheduler = client.run_on_scheduler(fit_scheduler)
        client.register_plugin(Teardown(), name="nngrader-teardown")
        facts: dict[str, tuple[str, str | None]] = client.run(_worker_facts, settings.isolation)
        facts["the scheduler"] = (scheduler, None)
    except Exception as exc:  # what a worker or the scheduler raised, as Dask hands it on
        raise GraderError(
            f"the Dask cluster cannot run nngrader (is nngrader {__version__} installed on the "
            f"scheduler and every worker?): {type(exc).__name__}: {exc}"
        ) from None
    unfit = [
        f"{address}: nngrader {version}" + (f", {problem}" if problem else "")
        for address, (version, problem) in sorted(facts.items())
        if version != __version__ or problem
    ]
    if unfit:
        raise GraderError(
            f"the Dask cluster is unfit to grade (this is nngrader {__version__}, sandbox "
            f"{settings.isolation}): " + "; ".join(unfit)
        )


def _worker_facts(isolation: str) -> tuple[str, str | None]:
    """On a worker: its nngrader version, and why it cannot run the sandbox (or None)."""
    from grader.sandbox import resolve_mode

    try:
        resolve_mode(isolation)
    except SandboxUnavailable as exc:
        return __version__, str(exc)
    return __version__, None


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run in each worker of the ``LocalCluster`` this module starts (also
    one started later to replace a worker that died): Ctrl-C, which a terminal sends to the
    whole process group, is the grading process's to handle (it closes the cluster); a worker
    would only print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Teardown(WorkerPlugin):
    """A worker plugin: when a worker closes (the cluster shuts down, Ctrl-C), it kills the
    sandboxes it still runs, which lead sessions of their own and would outlive it."""

    def teardown(self, worker: Any) -> None:
        """Kill this worker process's sandboxes (``grader.fanout.kill_leftovers``)."""
        fanout.kill_leftovers()


def grade_task(shipped: Shipped, settings: Settings) -> Document:
    """The task a worker runs. A setup error comes back as a plain ``GraderError`` (its
    subclasses take other arguments, which unpickling would not give them)."""
    try:
        return grade_shipped(shipped, settings)
    except GraderError as exc:
        raise GraderError(str(exc)) from None


def _run(
    client: Any,
    submissions: Sequence[Submission],
    settings: Settings,
    stop: fanout.Stop,
    events: Events,
) -> None:
    """Submit, collect and resubmit until every submission is done, or the batch stops."""
    batch = uuid.uuid4().hex[:12]
    pending = deque(range(len(submissions)))
    running: dict[Any, int] = {}
    tries = [0] * len(submissions)
    try:
        while (pending or running) and not stop.requested:
            room = _threads(client) - len(running) if pending else 0
            while pending and room > 0:
                i, room = pending.popleft(), room - 1
                tries[i] += 1
                events.begin(i)
                key = f"nngrader-{batch}-{i}-{tries[i]}"
                future = client.submit(
                    grade_task, ship(submissions[i]), settings, key=key, pure=False, retries=0
                )
                running[future] = i
            _wait(list(running))
            if stop.requested:  # a task a stopping batch lost is not the submission's doing
                break
            failure: BaseException | None = None
            for future in [f for f in running if f.done()]:
                i = running.pop(future)
                error = future.exception() if future.status == "error" else None
                if future.status == "finished":
                    try:
                        document = future.result()
                    except Exception as exc:  # the result was lost with its worker, say
                        error = exc
                    else:
                        events.done(i, document)
                        continue
                if isinstance(error, distributed.KilledWorker):
                    where = getattr(error.last_worker, "address", "?")
                    if events.lost(i, f"its Dask worker {where} died while grading it"):
                        pending.appendleft(i)
                elif isinstance(error, GraderError):
                    failure = failure or error
                else:
                    failure = failure or GraderError(
                        f"the Dask cluster did not grade {submissions[i].name!r}: "
                        f"{future.status} {type(error).__name__}: {error}"
                    )
            if failure is not None:
                raise failure
    finally:
        _cancel(client, running, events)


def _wait(futures: list[Any]) -> None:
    """Until one of ``futures`` is done, or ``POLL_SECONDS`` (Ctrl-C is looked at between)."""
    if not futures:
        time.sleep(POLL_SECONDS)
        return
    with contextlib.suppress(TimeoutError):
        distributed.wait(  # type: ignore[no-untyped-call]
            futures, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED"
        )


def _threads(client: Any) -> int:
    """The cluster's worker threads now (workers come and go)."""
    counts: dict[str, int] = client.nthreads()
    return sum(counts.values())


def _cancel(client: Any, running: dict[Any, int], events: Events) -> None:
    """Keep what finished meanwhile, cancel the rest (a cancelled task that already runs ends
    with its worker, or runs on until it finishes on a cluster that is not ours)."""
    for future in [f for f in running if f.status == "finished"]:
        events.done(running.pop(future), future.result())
    if running:
        client.cancel(list(running))
