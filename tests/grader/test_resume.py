"""A batch resumes from its results store (``grader.batch``): what finished is kept and not
regraded, what changed is, a worker that dies costs one attempt, and every submission is
finalised once. Grading is faked (``pipeline.grade_submission`` replaced): these tests are about
the batch, not the checks; the fault tests (``test_fault.py``) grade for real."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from grader import api, pipeline
from grader.results import SubmissionResult
from grader.store import MAX_ATTEMPTS, Key, Store


def students(root: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "solution.py").write_text(f"# {name}\n")
        paths.append(root / name)
    return paths


def graded_by(log: Path) -> Any:
    """A fake ``grade_submission`` that appends each name it grades to ``log`` (a file: the
    forked workers' calls count too)."""

    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        with open(log, "a") as file:
            file.write(submission.name + "\n")
        return pipeline.failed(submission.name, None, "", kw["isolation"], "graded")

    return grade_submission


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def rows(out: Path) -> dict[str, Any]:
    with Store.open(out) as store:
        return {row.key.name: row for row in store.rows()}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_second_run_grades_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    log, out = tmp_path / "log", tmp_path / "out"
    monkeypatch.setattr(pipeline, "grade_submission", graded_by(log))
    paths = students(tmp_path / "in", "ada", "bob", "cy")
    assert [r.name for r in api.grade(paths, out=out, sandbox="process", jobs=jobs)] == [
        "ada", "bob", "cy",
    ]  # fmt: skip
    assert sorted(calls(log)) == ["ada", "bob", "cy"]
    (tmp_path / "in" / "bob" / "solution.py").write_text("# bob, fixed\n")
    kept: list[tuple[int, int]] = []
    results = api.grade(
        paths, out=out, sandbox="process", jobs=jobs, on_resume=lambda *n: kept.append(n)
    )
    assert [r.name for r in results] == ["ada", "bob", "cy"]  # kept ones are returned too
    assert sorted(calls(log)) == ["ada", "bob", "bob", "cy"] and kept == [(2, 1)]
    api.grade(paths, out=out, sandbox="process", jobs=jobs, limits={"check_seconds": 3.0})
    assert len(calls(log)) == 7  # other limits: everything again
    api.grade(paths, out=out, sandbox="process", jobs=jobs, limits={"check_seconds": 3.0},
              regrade=True)  # fmt: skip
    assert len(calls(log)) == 10
    assert {name: (r.state, r.finalised) for name, r in rows(out).items()} == {
        n: ("done", 1) for n in ("ada", "bob", "cy")
    }


def test_the_class_views_hold_every_finished_submission_of_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    monkeypatch.setattr(pipeline, "grade_submission", graded_by(tmp_path / "log"))
    api.grade(students(tmp_path / "in", "ada"), out=out, sandbox="process")
    assert [r.name for r in api.grade(students(tmp_path / "in", "bob"), out=out,
                                      sandbox="process")] == ["bob"]  # fmt: skip
    with open(out / "grades.csv", encoding="utf-8-sig") as file:
        assert sorted(row["submission"] for row in csv.DictReader(file)) == ["ada", "bob"]
    assert "ada/report-instructor.html" in (out / "index.html").read_text()


def dies_on(victims: dict[str, int], tmp_path: Path) -> Any:
    """A fake ``grade_submission`` whose worker process is SIGKILLed while grading one of
    ``victims``, as many times as that says (counted in files: each try is a fresh worker)."""

    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        tries = tmp_path / f"tries-{submission.name}"
        with open(tries, "a") as file:
            file.write(f"{os.getpid()}\n")
        if len(tries.read_text().split()) <= victims.get(submission.name, 0):
            os.kill(os.getpid(), signal.SIGKILL)
        return pipeline.failed(submission.name, None, "", kw["isolation"], "graded")

    return grade_submission


def test_a_worker_killed_mid_task_is_replaced_and_the_task_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bob's first worker dies; bob is graded by a fresh one, and ada and cy, graded beside
    it, are not disturbed (a ProcessPoolExecutor would fail them all: BrokenProcessPool)."""
    out = tmp_path / "out"
    monkeypatch.setattr(pipeline, "grade_submission", dies_on({"bob": 1}, tmp_path))
    finished: list[str] = []
    results = api.grade(
        students(tmp_path / "in", "ada", "bob", "cy"), out=out, sandbox="process", jobs=2,
        on_result=lambda result, path: finished.append(result.name),
    )  # fmt: skip
    assert [(r.name, r.error) for r in results] == [(n, "graded") for n in ("ada", "bob", "cy")]
    assert sorted(finished) == ["ada", "bob", "cy"]
    pids = (tmp_path / "tries-bob").read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]
    store = rows(out)
    assert (store["bob"].state, store["bob"].attempts, store["bob"].finalised) == ("done", 2, 1)
    assert "killed by SIGKILL" in (store["bob"].reason or "")
    assert [(store[n].attempts, store[n].finalised) for n in ("ada", "cy")] == [(1, 1), (1, 1)]


def test_a_submission_that_kills_its_worker_twice_is_failed_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    monkeypatch.setattr(pipeline, "grade_submission", dies_on({"bob": 99}, tmp_path))
    paths = students(tmp_path / "in", "ada", "bob", "cy")
    results = api.grade(paths, out=out, sandbox="process", jobs=2)
    assert [r.name for r in results] == ["ada", "bob", "cy"]
    bob = json.loads((out / "bob" / "results.json").read_text())
    error = bob["extra_data"]["error"]
    assert bob["score"] == 0 and f"ended without a result {MAX_ATTEMPTS} times" in error
    assert "its worker process was killed by SIGKILL" in error
    assert len((tmp_path / "tries-bob").read_text().split()) == MAX_ATTEMPTS
    store = rows(out)
    assert (store["bob"].state, store["bob"].attempts, store["bob"].finalised) == ("failed", 2, 1)
    api.grade(paths, out=out, sandbox="process", jobs=2)  # not tried forever
    assert len((tmp_path / "tries-bob").read_text().split()) == MAX_ATTEMPTS


def test_a_run_that_died_is_resumed_counting_the_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What killed runs leave: ada finalised, but its results.json empty (the machine stopped
    before it was flushed), bob running (killed while grading), cy running for the second time.
    The next run renders ada without grading it, grades bob again, and fails cy: its attempts
    are used up."""
    log, out = tmp_path / "log", tmp_path / "out"
    monkeypatch.setattr(pipeline, "grade_submission", graded_by(log))
    paths = students(tmp_path / "in", "ada", "bob", "cy")
    api.grade(paths, out=out, sandbox="process")
    ada = json.loads((out / "ada" / "instructor.json").read_text())
    (out / "ada" / "results.json").write_text("")  # renamed into place, never flushed
    bob, cy = Key("bob", "bob"), Key("cy", "cy")
    with Store.open(out) as store:  # what two SIGKILLed runs leave, written by hand
        found = {r.key.name: r for r in store.rows()}
        store.plan([(k, found[k.name].content) for k in (bob, cy)], regrade=True)
        store.start(bob)
        store.start(cy)
    with Store.open(out) as store:
        store.requeue_dead()
        store.start(cy)
    results = api.grade(paths, out=out, sandbox="process")
    assert calls(log) == ["ada", "bob", "cy", "bob"]  # ada is not regraded, cy not tried
    assert json.loads((out / "ada" / "instructor.json").read_text()) == ada
    assert json.loads((out / "ada" / "results.json").read_text())["score"] == 0
    after = rows(out)
    assert (after["bob"].state, after["bob"].attempts, after["bob"].finalised) == ("done", 2, 1)
    assert after["cy"].state == "failed" and "without a result" in (results[2].error or "")
    assert json.loads((out / "cy" / "results.json").read_text())["score"] == 0


def test_ctrl_c_gives_the_attempt_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"

    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        if submission.name == "bob":
            os.kill(os.getpid(), signal.SIGINT)
        return pipeline.failed(submission.name, None, "", kw["isolation"], "graded")

    monkeypatch.setattr(pipeline, "grade_submission", grade_submission)
    with pytest.raises(api.GradingInterrupted):
        api.grade(students(tmp_path / "in", "ada", "bob", "cy"), out=out, sandbox="process")
    store = rows(out)
    assert [(store[n].state, store[n].attempts) for n in ("ada", "bob", "cy")] == [
        ("done", 1), ("queued", 0), ("queued", 0),
    ]  # fmt: skip
