"""``nngrader serve --executor dask``: the service's jobs graded as tasks on a Dask cluster.

Without a cluster (a stand-in client): what becomes of an attempt (a document, the grader's
setup error, a worker that died: a lost attempt, counted as a local child's, and failed after
``MAX_ATTEMPTS``), the deadline and the stop. Then (``slow``) a real service on the
``LocalCluster`` it starts grades the bundled examples, each finalised once.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from grader.errors import GraderError
from grader.service.config import Settings, parse_config
from grader.service.jobs import MAX_ATTEMPTS, Claimed, Jobs, NewJob
from grader.service.limits import ServiceLimits
from grader.service.workers import WorkerPool
from tests.grader.service.conftest import (
    ALICE,
    ASSIGNMENT,
    BOB,
    INSTRUCTOR,
    Served,
    config_doc,
    submit,
    wait_state,
)
from tests.grader.service.scenario import tiny_upload

distributed = pytest.importorskip("distributed")

from grader.service.dask_runner import DaskRunner  # noqa: E402 - needs Dask
from grader.service.server import HeaderDeadline  # noqa: E402

GRADING_SECONDS = 300.0
FINISHED = ("done", "failed")


class Future:
    """A stand-in for a Dask future: ``status`` and what it holds."""

    def __init__(self, status: str = "pending", value: Any = None, error: Any = None) -> None:
        self.status, self.value, self.error = status, value, error
        self.cancelled = self.released = False

    def done(self) -> bool:
        return self.status != "pending"

    def result(self) -> Any:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value

    def exception(self) -> Any:
        return self.error

    def cancel(self) -> None:
        self.cancelled = True

    def release(self) -> None:
        self.released = True


class Client:
    """A stand-in for a Dask client: each ``submit`` answers the next future given."""

    def __init__(self, *futures: Future) -> None:
        self.futures, self.keys, self.closed = list(futures), [], False

    def submit(self, task: Any, *args: Any, key: str, **kwargs: Any) -> Future:
        self.keys.append(key)
        return self.futures.pop(0)

    def close(self) -> None:
        self.closed = True


def killed() -> Future:
    worker = SimpleNamespace(address="tcp://10.0.0.7:4242")
    return Future("error", error=distributed.KilledWorker("key", worker, 0))


def queued_job(tmp_path: Path) -> tuple[Jobs, str]:
    jobs = Jobs.open(tmp_path / "jobs.sqlite", tmp_path / "uploads")
    partial = jobs.uploads / "upload.zip.partial"
    partial.write_bytes(tiny_upload())
    new = NewJob("cs", ASSIGNMENT, "alice", "alice", "cs:alice", partial)
    (job_id,) = jobs.add([new])
    return jobs, job_id


def claim(jobs: Jobs) -> Claimed:
    found = jobs.claim()
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("future", "outcome"),
    [
        (Future("finished", {"score": 1.0}), (("ok", {"score": 1.0}), "")),
        (Future("error", error=GraderError("no bwrap")),
         (("error", "the grader could not run: no bwrap"), "")),
        (killed(), (None, "its Dask worker tcp://10.0.0.7:4242 died while grading it")),
        (Future("finished", OSError("gone")),
         (None, "its result was lost on the Dask cluster (OSError: gone)")),
        (Future("cancelled"),
         (None, "the Dask cluster did not grade it: cancelled NoneType: None")),
    ],
)  # fmt: skip
def test_a_tasks_end_is_a_result_a_setup_error_or_a_lost_attempt(
    tmp_path: Path, future: Future, outcome: Any
) -> None:
    jobs, _ = queued_job(tmp_path)
    client = Client(future)
    runner = DaskRunner(client, None, isolation="process", limits=ServiceLimits())
    job = claim(jobs)
    assert runner.grade(job, threading.Event()) == outcome
    assert client.keys == [f"nngrader-service-{job.id}-1"] and future.released
    runner.close()
    assert client.closed
    jobs.close()


def test_past_the_deadline_or_at_a_stop_the_task_is_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distributed, "wait", lambda futures, timeout: time.sleep(timeout))
    jobs, _ = queued_job(tmp_path)
    slow, stopped = Future(), Future()
    runner = DaskRunner(Client(slow, stopped), None, isolation="process",
                        limits=ServiceLimits(job_seconds=0.3))  # fmt: skip
    job = claim(jobs)
    start = time.monotonic()
    assert runner.grade(job, threading.Event()) == (None, "timeout")
    assert 0.3 <= time.monotonic() - start < 5 and slow.cancelled
    stop = threading.Event()
    stop.set()
    assert runner.grade(job, stop) == (None, "stopped") and stopped.cancelled
    jobs.close()


def test_a_spec_that_cannot_be_read_fails_the_job_with_the_reason(tmp_path: Path) -> None:
    jobs = Jobs.open(tmp_path / "jobs.sqlite", tmp_path / "uploads")
    partial = jobs.uploads / "upload.zip.partial"
    partial.write_bytes(tiny_upload())
    jobs.add([NewJob(None, "no-such-course", "anon", None, "anonymous:x", partial)])
    client = Client()
    runner = DaskRunner(client, None, isolation="process", limits=ServiceLimits())
    outcome, why = runner.grade(claim(jobs), threading.Event())
    assert outcome[0] == "error" and "unknown assignment 'no-such-course'" in outcome[1]
    assert why == "" and client.keys == []  # nothing was sent
    jobs.close()


def test_a_worker_that_dies_twice_fails_the_job_once_with_the_reason(tmp_path: Path) -> None:
    """The pool's threads over the runner: each death is an attempt, the bound is the local
    one, and the job is finalised exactly once."""
    jobs, job_id = queued_job(tmp_path)
    client = Client(*[killed() for _ in range(MAX_ATTEMPTS)])
    runner = DaskRunner(client, None, isolation="process", limits=ServiceLimits())
    pool = WorkerPool(jobs, workers=1, limits=ServiceLimits(), runner=runner)
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while (found := jobs.get(job_id)) is not None and found.state != "failed":
            assert time.monotonic() < deadline, found
            time.sleep(0.05)
    finally:
        pool.stop()
    assert found is not None and found.attempts == MAX_ATTEMPTS
    assert f"not graded ({MAX_ATTEMPTS} tries)" in (found.error or "")
    assert "died while grading it" in (found.error or "")
    assert jobs.counts(job_id) == (MAX_ATTEMPTS, 1) and client.closed
    assert client.keys == [f"nngrader-service-{job_id}-{n}" for n in (1, 2)]
    jobs.close()


@pytest.mark.slow
def test_a_service_on_a_local_dask_cluster_grades_and_finalises_once(
    tmp_path: Path, correct_zip: bytes, buggy_zip: bytes
) -> None:
    settings = Settings(
        db=tmp_path / "service.sqlite",
        config=parse_config(config_doc(), tmp_path),
        workers=2,
        sandbox="process",
        executor="dask",
    )
    live = Served(settings)
    try:
        api = live.http
        jobs = [submit(api, correct_zip, ALICE).json(), submit(api, buggy_zip, BOB).json()]
        states = [
            wait_state(api, job["status_url"], who, FINISHED, GRADING_SECONDS)
            for job, who in zip(jobs, (ALICE, BOB), strict=True)
        ]
        assert [s["state"] for s in states] == ["done", "done"], states
        correct, buggy = states
        assert correct["score"] == correct["max_score"] > 0
        assert 0 < buggy["score"] < buggy["max_score"]
        for job in jobs:
            assert live.service.jobs.counts(job["job"]) == (1, 1)
        instructor = api.get(jobs[1]["results_url"] + "?view=instructor", headers=INSTRUCTOR)
        doc = json.loads(instructor.text)
        assert any(c["status"] == "failed" and "relu_backward" in c["check_id"]
                   for c in doc["checks"])  # fmt: skip
        assert live.service.pool.running() == {}  # nothing graded in this process's children
    finally:
        live.stop()


def test_serve_takes_executor_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``--scheduler`` alone means dask; with ``--executor local`` it is a usage error."""
    import uvicorn

    from grader.cli import main

    seen: list[Settings] = []
    served: list[dict[str, Any]] = []
    monkeypatch.setattr("grader.service.app.create_app", lambda s: seen.append(s) or s)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: served.append(k))
    db = str(tmp_path / "db.sqlite")
    assert main(["serve", "--db", db, "--sandbox", "process", "--scheduler", "tcp://s:1"]) == 0
    assert main(["serve", "--db", db, "--sandbox", "process", "--executor", "dask"]) == 0
    assert main(["serve", "--db", db, "--sandbox", "process"]) == 0
    assert [(s.executor, s.scheduler) for s in seen] == [
        ("dask", "tcp://s:1"), ("dask", None), ("local", None)
    ]  # fmt: skip
    # Served with the header deadline (grader.service.server), the configuration's time.
    assert all(issubclass(k["http"], HeaderDeadline) and k["http"].seconds == 120 for k in served)
    assert main(["serve", "--db", db, "--executor", "local", "--scheduler", "tcp://s:1"]) == 2
