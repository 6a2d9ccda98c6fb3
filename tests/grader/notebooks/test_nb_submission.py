"""Notebooks in a graded submission: results.json's ``extra_data.notebooks`` (the contract), a
submission of notebooks only (refused by detection, or graded on what it has), never scored."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from grader import api, intake
from grader.report.gradescope import to_gradescope
from grader.report.render import json_text
from grader.spec.registry import get_spec
from tests.grader.notebooks import seeds
from tests.grader.planting import COURSES, skip_without

CONTRACT = {"path", "part", "executed", "error_cells", "answers", "printed"}


def notebooks_only(root: Path) -> Path:
    seeds.write(seeds.cs231n_dropout(), root / "assignment2" / "Dropout.ipynb")
    seeds.write(seeds.unrun(seeds.cs231n_fc()), root / "assignment2" / "FullyConnectedNets.ipynb")
    return root


def test_a_graded_submission_reports_its_notebooks(tmp_path: Path) -> None:
    """End to end (process sandbox): the correct example with its notebooks."""
    skip_without("cs231n-2021")
    sub = tmp_path / "student"
    shutil.copytree(COURSES["cs231n-2021"], sub)
    seeds.write(seeds.with_error_cell(), sub / "Dropout.ipynb")
    seeds.write(seeds.cs231n_fc(), sub / "FullyConnectedNets.ipynb")
    (sub / "BatchNormalization.ipynb").write_text("{not json", encoding="utf-8")
    spec = get_spec("cs231n-2021")
    spec = replace(spec, checks=tuple(c for c in spec.checks if c.subject == "sgd_momentum"))
    (taken,) = intake.collect([sub], tmp_path / "intake", lms=False)
    result = api.grade_submission(taken, spec=spec, workdir=tmp_path / "work", sandbox="process")
    assert result.score == result.max_score > 0  # nothing about notebooks is scored
    doc = json.loads(json_text(to_gradescope(result), indent=2))
    notebooks = doc["extra_data"]["notebooks"]
    assert [n["path"] for n in notebooks] == [
        "BatchNormalization.ipynb",
        "Dropout.ipynb",
        "FullyConnectedNets.ipynb",
    ]
    bad, dropout, fc = notebooks
    assert set(dropout) == CONTRACT and set(fc) == CONTRACT
    assert dropout["part"] == "dropout" and dropout["executed"] is True
    assert dropout["error_cells"] == [3]
    assert [a["question"].split(":")[0] for a in dropout["answers"]] == [
        "Inline Question 1",
        "Inline Question 2",
    ]
    assert dropout["answers"][0]["text"] == seeds.A1
    assert dropout["printed"]["rel_error_dx"] == 5.44560814873387e-11
    assert fc["printed"] == {"test_accuracy": 0.533, "val_accuracy": 0.544}
    assert (
        bad["part"] == "bn"
        and bad["executed"] is False
        and bad["problem"].startswith("BatchNormalization.ipynb is not valid JSON")
    )
    assert doc["extra_data"]["manual_grading"] == {"answers": 2, "points_each": 1.0, "points": 2.0}
    assert (
        "2 inline answer(s) in the notebooks await manual grading (2 points reserved, not part "
        "of this score)"
    ) in doc["extra_data"]["notes"]
    assert any(
        n.startswith("BatchNormalization.ipynb is not valid JSON")
        for n in doc["extra_data"]["notes"]
    )


def test_notebooks_alone_are_taken_in_and_refused_naming_what_is_missing(tmp_path: Path) -> None:
    (taken,) = intake.collect([notebooks_only(tmp_path / "s")], tmp_path / "in", lms=False)
    assert taken.error is None
    result = api.grade_submission(taken, workdir=tmp_path / "work", sandbox="process")
    assert result.score == 0 and result.error and result.error.startswith("no course")
    assert [n["path"] for n in result.extra["notebooks"]] == [
        "assignment2/Dropout.ipynb",
        "assignment2/FullyConnectedNets.ipynb",
    ]
    lacks = result.extra["missing_by_course"]
    assert (
        lacks["cs231n-2021"]
        == [  # layer_utils.py would be the starter's stand-in
            "cs231n/layers.py",
            "cs231n/optim.py",
            "cs231n/classifiers/fc_net.py",
        ]
        and "cs182-sp25" not in lacks
    )
    (said,) = [n for n in result.notes if n.startswith("the submission has notebooks")]
    assert "cs231n-2021: cs231n/layers.py, cs231n/optim.py, cs231n/classifiers/fc_net.py" in said
    assert said.endswith("Pass --assignment ID to grade it against a course on what it has")


def test_notebooks_alone_with_an_assignment_are_graded_on_what_they_have(tmp_path: Path) -> None:
    spec = get_spec("cs231n-2021")
    spec = replace(spec, checks=spec.checks[:2])
    (taken,) = intake.collect([notebooks_only(tmp_path / "s")], tmp_path / "in", lms=False)
    result = api.grade_submission(taken, spec=spec, workdir=tmp_path / "work", sandbox="process")
    assert result.score == 0 and result.error is None
    assert all("was not found in the submission" in c.message for c in result.checks)
    assert (
        "graded on what the submission has: notebooks assignment2/Dropout.ipynb, "
        "assignment2/FullyConnectedNets.ipynb; missing course files cs231n/layers.py, "
        "cs231n/optim.py, cs231n/classifiers/fc_net.py (the checks that need them score 0)"
    ) in result.notes
    fc = result.extra["notebooks"][1]
    assert fc["executed"] is False and fc["printed"] == {} and fc["part"] == "fc"
