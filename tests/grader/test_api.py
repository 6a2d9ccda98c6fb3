"""The batch face of the API (``grader.api.grade``): what one submission can and cannot cost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from grader import api, fanout, pipeline
from grader.errors import SandboxUnavailable, SpecError
from grader.results import SubmissionResult


def three_students(root: Path) -> list[Path]:
    paths = []
    for name in ("ada", "bob", "cy"):
        (root / name).mkdir(parents=True)
        (root / name / "notes.txt").write_text("nothing to grade here\n")
        paths.append(root / name)
    return paths


def test_a_grader_bug_on_one_submission_leaves_the_others_graded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        if submission.name == "bob":
            raise KeyError("a bug in the grader")
        return pipeline.failed(submission.name, None, "", kw["isolation"], "graded")

    monkeypatch.setattr(pipeline, "grade_submission", grade_submission)
    out = tmp_path / "out"
    results = api.grade(three_students(tmp_path / "in"), out=out, sandbox="process")
    assert [r.name for r in results] == ["ada", "bob", "cy"]
    assert [r.error for r in results][::2] == ["graded", "graded"]
    assert "the grader failed on this submission (KeyError)" in (results[1].error or "")
    written = json.loads((out / "bob" / "results.json").read_text())
    assert written["score"] == 0 and "KeyError" in written["output"]
    assert "a bug in the grader" in capsys.readouterr().err  # the traceback, for the instructor


def test_a_setup_error_still_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        raise SpecError(Path("x.toml"), "checks", "broken")

    monkeypatch.setattr(pipeline, "grade_submission", grade_submission)
    with pytest.raises(SpecError):
        api.grade(three_students(tmp_path / "in"), out=tmp_path / "out", sandbox="process")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_setup_error_stops_a_parallel_run_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        if submission.name == "bob":
            raise SandboxUnavailable("no bubblewrap here")
        return pipeline.failed(submission.name, None, "", kw["isolation"], "graded")

    monkeypatch.setattr(pipeline, "grade_submission", grade_submission)
    with pytest.raises(SandboxUnavailable, match="no bubblewrap here"):
        api.grade(
            three_students(tmp_path / "in"), out=tmp_path / "out", sandbox="process", jobs=jobs
        )


WAIT = 60.0
"""How long a fake submission waits for what the test expects to happen first (generous: it
only bounds a test that fails)."""


def _wait_for(condition: Any) -> bool:
    end = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def test_results_are_written_as_they_finish_and_returned_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two workers, ada waits until bob's results.json is on disk: it would wait in vain if
    results were written in input order."""
    out = tmp_path / "out"

    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        error = "graded"
        if submission.name == "ada" and not _wait_for((out / "bob" / "results.json").exists):
            error = "bob's results were not written before ada finished"
        return pipeline.failed(submission.name, None, "", kw["isolation"], error)

    monkeypatch.setattr(pipeline, "grade_submission", grade_submission)
    started: list[tuple[str, int]] = []
    finished: list[str] = []
    results = api.grade(
        three_students(tmp_path / "in"),
        out=out,
        sandbox="process",
        jobs=2,
        on_start=lambda name, total: started.append((name, total)),
        on_result=lambda result, path: finished.append(result.name),
    )
    assert [r.name for r in results] == ["ada", "bob", "cy"]
    assert [r.error for r in results] == ["graded"] * 3
    assert finished.index("bob") < finished.index("ada")
    assert sorted(started) == [("ada", 3), ("bob", 3), ("cy", 3)]
    assert (out / "index.html").is_file() and (out / "grades.csv").is_file()


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_keeps_what_finished_and_names_what_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """bob's grading gets SIGINT (in this process, or in its worker); cy, running beside it,
    only stops because the batch stops (its worker is interrupted by the parent)."""
    out = tmp_path / "out"

    def grade_submission(submission: Any, **kw: Any) -> SubmissionResult:
        if submission.name == "bob":
            _wait_for((out / "ada" / "results.json").exists)
            os.kill(os.getpid(), signal.SIGINT)
        if submission.name == "cy":
            _wait_for(lambda: False)  # until interrupted
            return pipeline.failed("cy", None, "", kw["isolation"], "not interrupted")
        return pipeline.failed(submission.name, None, "", kw["isolation"], "graded")

    monkeypatch.setattr(pipeline, "grade_submission", grade_submission)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(api.GradingInterrupted) as info:
        api.grade(three_students(tmp_path / "in"), out=out, sandbox="process", jobs=jobs)
    assert [r.name for r in info.value.results] == ["ada"]
    assert info.value.not_graded == ["bob", "cy"]
    assert json.loads((out / "ada" / "results.json").read_text())["score"] == 0
    assert not (out / "bob").exists() and not (out / "cy").exists()
    assert (out / "index.html").is_file()  # the class views of what finished
    assert signal.getsignal(signal.SIGINT) is handler


def test_after_ctrl_c_what_the_grading_started_is_killed_and_nothing_else() -> None:
    """What an interrupt left of a sandbox (a child leading its own session, and what that
    started) is killed and reaped; a host program's own children are not touched, whether they
    lead a session (started before the grading) or not."""

    def python(code: str, **kw: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", f"import subprocess, sys, time; {code}"], **kw
        )

    hosts = [python(SLEEP, start_new_session=True), python(SLEEP)]
    leader = None
    try:
        with pytest.raises(KeyboardInterrupt), fanout.killing_leftovers():
            code = f"{SLEEPER}; print(p.pid); {SLEEP}"
            leader = python(code, stdout=subprocess.PIPE, start_new_session=True)
            assert leader.stdout is not None
            grandchild = int(leader.stdout.readline())
            raise KeyboardInterrupt
        assert not Path(f"/proc/{leader.pid}").exists()  # killed and reaped, not a zombie
        assert _wait_for(lambda: not _alive(grandchild))
        assert [host.poll() for host in hosts] == [None, None]
    finally:
        for proc in [*hosts, *([leader] if leader else [])]:
            proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


SLEEP = "time.sleep(600)"
SLEEPER = "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for init to reap it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
