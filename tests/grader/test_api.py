"""The batch face of the API (``grader.api.grade``): what one submission can and cannot cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader import api, pipeline
from grader.errors import SpecError
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
