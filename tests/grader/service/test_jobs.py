"""The jobs table (``grader.service.jobs``): states, attempts and their bound, a result stored
exactly once whatever retries happened, jobs added with their uploads or not at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.service.jobs import MAX_ATTEMPTS, PARTIAL, Jobs, NewJob


def doc(score: float) -> dict[str, Any]:
    """A stand-in for an instructor.json document (the table keeps any JSON object)."""
    return {"score": score, "max_score": 10.0, "error": None}


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[Jobs]:
    opened = Jobs.open(tmp_path / "jobs.sqlite", tmp_path / "uploads")
    yield opened
    opened.close()


def new(jobs: Jobs, name: str = "ada") -> NewJob:
    partial = jobs.uploads / f"{name}{PARTIAL}"
    partial.write_bytes(b"zip bytes")
    return NewJob("cs", "cs231n-2021", name, name, f"cs:{name}", partial)


def test_a_job_goes_queued_running_done_with_its_upload_in_place(jobs: Jobs) -> None:
    (job_id,) = jobs.add([new(jobs)])
    assert [p.name for p in jobs.uploads.iterdir()] == [f"{job_id}.zip"]
    assert jobs.get(job_id).state == "queued" and jobs.queued() == 1  # type: ignore[union-attr]
    claimed = jobs.claim()
    assert claimed is not None and (claimed.id, claimed.attempt) == (job_id, 1)
    assert claimed.upload.read_bytes() == b"zip bytes"
    assert jobs.claim() is None  # nothing else queued
    assert jobs.finalise(job_id, 1, doc(7.0), failed=False)
    job = jobs.get(job_id)
    assert job is not None and (job.state, job.score, job.attempts) == ("done", 7.0, 1)
    assert jobs.result(job_id) == doc(7.0) and jobs.results("cs") == [doc(7.0)]


def test_what_intake_left_out_goes_with_the_job_to_its_grading(jobs: Jobs) -> None:
    left_out = ("left out comments.txt: the uploaded assignment1.zip is the submission",)
    jobs.add([NewJob(**{**new(jobs).__dict__, "notes": left_out})])
    jobs.add([new(jobs, "bob")])
    first, second = jobs.claim(), jobs.claim()
    assert first is not None and first.notes == left_out
    assert second is not None and second.notes == ()


def test_a_retried_job_is_finalised_once_by_the_attempt_that_runs(jobs: Jobs) -> None:
    (job_id,) = jobs.add([new(jobs)])
    first = jobs.claim()
    assert first is not None
    # the first grading is given up for dead, and the job runs again
    assert jobs.lost(job_id, first.attempt, "its grading process was killed", doc(0.0))
    second = jobs.claim()
    assert second is not None and second.attempt == 2
    # the first grading answers late: refused, and so is a second result of the second
    assert not jobs.finalise(job_id, first.attempt, doc(1.0), failed=False)
    assert jobs.finalise(job_id, second.attempt, doc(9.0), failed=False)
    assert not jobs.finalise(job_id, second.attempt, doc(2.0), failed=False)
    assert jobs.counts(job_id) == (2, 1)  # two attempts, one result
    assert jobs.result(job_id) == doc(9.0)
    # a lost report of the old attempt changes nothing either
    assert not jobs.lost(job_id, first.attempt, "late", doc(0.0))
    assert jobs.get(job_id).state == "done"  # type: ignore[union-attr]


def test_after_the_bound_a_lost_job_is_failed_with_the_reason(jobs: Jobs) -> None:
    (job_id,) = jobs.add([new(jobs)])
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = jobs.claim()
        assert claimed is not None and claimed.attempt == attempt
        again = jobs.lost(job_id, attempt, "killed", {**doc(0.0), "error": "not graded: killed"})
        assert again == (attempt < MAX_ATTEMPTS)
    job = jobs.get(job_id)
    assert job is not None and (job.state, job.error) == ("failed", "not graded: killed")
    assert jobs.claim() is None and jobs.counts(job_id) == (MAX_ATTEMPTS, 1)


def test_a_stopped_attempt_is_given_back(jobs: Jobs) -> None:
    (job_id,) = jobs.add([new(jobs)])
    claimed = jobs.claim()
    assert claimed is not None
    jobs.release(job_id, claimed.attempt)
    job = jobs.get(job_id)
    assert job is not None and (job.state, job.attempts) == ("queued", 0)
    assert jobs.claim().attempt == 2  # type: ignore[union-attr]  # a new attempt number


def test_a_restart_queues_running_jobs_again_and_fails_those_out_of_attempts(
    tmp_path: Path, jobs: Jobs
) -> None:
    ids = jobs.add([new(jobs, "ada"), new(jobs, "bob")])
    jobs.claim()
    jobs.lost(ids[0], 1, "killed", doc(0.0))
    jobs.claim(), jobs.claim()  # ada's second attempt, bob's first: both running
    jobs.close()
    reopened = Jobs.open(tmp_path / "jobs.sqlite", tmp_path / "uploads")
    failures: list[tuple[str, str, str]] = []

    def failure(name: str, assignment: str, reason: str) -> dict[str, Any]:
        failures.append((name, assignment, reason))
        return {**doc(0.0), "error": reason}

    assert reopened.requeue_dead(failure) == 2
    ada, bob = reopened.get(ids[0]), reopened.get(ids[1])
    assert ada is not None and bob is not None
    assert (ada.state, ada.attempts) == ("failed", MAX_ATTEMPTS)
    assert failures == [("ada", "cs231n-2021", "the service stopped while it was being graded")]
    assert (bob.state, bob.attempts) == ("queued", 1)  # the attempt counts
    reopened.close()


def test_jobs_are_added_with_their_uploads_or_not_at_all(jobs: Jobs) -> None:
    good = new(jobs, "ada")
    missing = NewJob("cs", "cs231n-2021", "bob", None, "cs:", jobs.uploads / f"gone{PARTIAL}")
    with pytest.raises(FileNotFoundError):
        jobs.add([good, missing])
    assert jobs.queued() == 0 and list(jobs.uploads.iterdir()) == []
    failed = NewJob("cs", "cs231n-2021", "cy", None, "cs:", None, failed=doc(0.0))
    (job_id,) = jobs.add([failed])
    assert jobs.get(job_id).state == "failed" and jobs.claim() is None  # type: ignore[union-attr]
    assert jobs.counts(job_id) == (0, 1)


def test_a_finished_job_is_regraded_from_zero_attempts(jobs: Jobs) -> None:
    (job_id,) = jobs.add([new(jobs)])
    assert not jobs.regrade(job_id)  # not finished
    claimed = jobs.claim()
    assert claimed is not None and jobs.finalise(job_id, 1, doc(3.0), failed=False)
    assert jobs.regrade(job_id)
    job = jobs.get(job_id)
    assert job is not None and (job.state, job.attempts, job.score) == ("queued", 0, None)
    assert jobs.counts(job_id) == (1, 0) and jobs.result(job_id) is None


def test_an_upload_left_without_its_row_is_removed_at_the_next_start(
    tmp_path: Path, jobs: Jobs
) -> None:
    (job_id,) = jobs.add([new(jobs)])
    (jobs.uploads / "orphan.zip").write_bytes(b"x")
    (jobs.uploads / f"half{PARTIAL}").write_bytes(b"x")
    jobs.close()
    reopened = Jobs.open(tmp_path / "jobs.sqlite", tmp_path / "uploads")
    assert [p.name for p in reopened.uploads.iterdir()] == [f"{job_id}.zip"]
    reopened.close()


def test_what_add_admits_is_decided_with_the_table_as_the_jobs_go_in(jobs: Jobs) -> None:
    """A burst of uploads that each passed a check together cannot all go in: the check that
    ``add`` runs sees the jobs of the uploads before it."""

    class Refused(Exception):
        pass

    def admit() -> None:
        if len(jobs.recent("cs:ada", 0.0)) >= 3:  # at most 3 (the hourly limit, say)
            raise Refused

    start = threading.Barrier(8)
    added: list[str] = []

    def upload(n: int) -> None:
        job = new(jobs, f"ada{n}")
        start.wait()
        try:
            added.extend(jobs.add([NewJob(**{**job.__dict__, "submitter": "cs:ada"})], admit))
        except Refused:
            pass

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(added) == 3 and jobs.queued() == 3
    assert sorted(p.name for p in jobs.uploads.iterdir()) == sorted(f"{i}.zip" for i in added)
