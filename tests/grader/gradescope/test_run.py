"""``grader.gradescope.run``: one submission into results/results.json, whatever happens, in the
sandbox the build chose (and, with ``fallback``, process mode where bubblewrap cannot run, said in
the report)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.errors import SandboxUnavailable
from grader.gradescope import isolation, run
from grader.report.validate import validate
from grader.sandbox import modes

ROOT = Path(__file__).resolve().parents[3]
CORRECT = ROOT / "examples" / "cs231n-2021" / "correct"
GOLDEN = ROOT / "tests" / "goldens" / "results" / "cs231n-2021" / "correct.json"
PROBLEM = "bwrap cannot create namespaces here: Operation not permitted"


def autograder_root(tmp_path: Path, submission: Path | None = CORRECT) -> Path:
    """A fake ``/autograder``: ``submission/`` (a copy of ``submission``), ``results/`` empty."""
    root = tmp_path / "autograder"
    if submission is None:
        (root / "submission").mkdir(parents=True)
    else:
        shutil.copytree(submission, root / "submission")
    (root / "results").mkdir()
    return root


def results(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "results" / "results.json").read_text("ascii"))
    validate("results", doc)
    return doc


def bwrap_problem(monkeypatch: pytest.MonkeyPatch, problem: str | None) -> None:
    """Make bubblewrap usable here (None) or not (``problem``), as the modes probe says."""
    monkeypatch.setattr(modes, "available_modes", lambda: {"bwrap": problem, "process": None})


@pytest.mark.parametrize(
    ("choice", "problem", "mode"),
    [
        ("fallback", None, "bwrap"),
        ("fallback", PROBLEM, "process"),
        ("bwrap", None, "bwrap"),
        ("process", None, "process"),
        ("process", PROBLEM, "process"),
    ],
)
def test_the_sandbox_choice_gives_a_mode_and_a_note_only_when_falling_back(
    monkeypatch: pytest.MonkeyPatch, choice: str, problem: str | None, mode: str
) -> None:
    bwrap_problem(monkeypatch, problem)
    chosen, note = isolation.choose_isolation(choice)
    assert chosen == mode
    if choice == "fallback" and problem:
        assert note is not None and PROBLEM in note and "process mode" in note
    else:
        assert note is None


def test_insisting_on_bwrap_where_it_cannot_run_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    bwrap_problem(monkeypatch, PROBLEM)
    with pytest.raises(SandboxUnavailable, match="Operation not permitted"):
        isolation.choose_isolation("bwrap")
    with pytest.raises(SandboxUnavailable, match="unknown sandbox choice"):
        isolation.choose_isolation("auto")


def test_insisting_on_bwrap_where_it_cannot_run_scores_0_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bwrap_problem(monkeypatch, PROBLEM)
    root = autograder_root(tmp_path, submission=None)
    assert run.main(["--root", str(root), "--assignment", "cs231n-2021", "--sandbox", "bwrap"]) == 1
    doc = results(root)
    assert doc["score"] == 0 and doc["extra_data"]["max_score"] == 59.0
    assert PROBLEM in doc["output"] and "The autograder failed" in doc["output"]


def test_a_grader_crash_still_writes_a_score_0_results_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(run.api, "grade_submission", crash)
    root = autograder_root(tmp_path)
    argv = ["--root", str(root), "--assignment", "cs231n-2021", "--sandbox", "process"]
    assert run.main(argv) == 1
    doc = results(root)
    assert doc["score"] == 0 and doc["tests"] == []
    assert doc["extra_data"]["error"] == "nngrader failed: RuntimeError('kaboom')"
    assert "RuntimeError('kaboom')" in doc["output"]
    assert "Traceback" in capsys.readouterr().out  # the instructor's view (Gradescope's stdout)


def test_the_limits_written_in_at_build_time_reach_the_grading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def record(root: Path, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(run, "grade_into", record)
    root = autograder_root(tmp_path, submission=None)
    argv = ["--root", str(root), "--assignment", "cs231n-2021", "--limit=memory_bytes=536870912"]
    assert run.main([*argv, "--limit=check_seconds=2.5"]) == 1
    assert seen == {
        "assignment": "cs231n-2021",
        "sandbox": "fallback",
        "limits": {"memory_bytes": 536870912, "check_seconds": 2.5},
    }
    assert isinstance(seen["limits"]["memory_bytes"], int)


def test_an_unknown_limit_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run.main(["--root", str(tmp_path), "--assignment", "cs231n-2021", "--limit=nope=1"])
    assert exited.value.code == 2


def test_the_failure_document_is_a_valid_results_json() -> None:
    doc = run.failure_document("why", assignment="cs231n-2021", max_score=59.0, seconds=1.5)
    validate("results", doc)
    assert doc["score"] == 0 and doc["execution_time"] == 1.5 and "Reason: why" in doc["output"]


@pytest.mark.slow
def test_where_bwrap_cannot_run_the_fallback_grades_in_process_mode_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bwrap_problem(monkeypatch, PROBLEM)
    root = autograder_root(tmp_path)
    argv = ["--root", str(root), "--assignment", "cs231n-2021", "--sandbox", "fallback"]
    assert run.main(argv) == 0
    doc = results(root)
    assert doc["score"] == json.loads(GOLDEN.read_text())["score"]
    assert doc["extra_data"]["isolation"] == "process"
    assert doc["extra_data"]["submission"] == "submission"
    first = doc["extra_data"]["notes"][0]
    assert PROBLEM in first and "--sandbox fallback" in first
    assert first in doc["output"]  # what the student sees says it too
    out = root / run.OUT / run.NAME
    assert (out / "report.html").is_file()
    assert json.loads((out / "results.json").read_text()) == doc
