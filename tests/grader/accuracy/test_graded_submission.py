"""End to end: ``nngrader grade --data`` on a submission with a model file and its notebook.

The grade's accuracy test and ``extra_data.accuracy`` come from the measurement; what the
notebook printed (read by the notebook stage) is shown beside it, warned about, never graded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grader import api
from grader.spec.registry import get_spec
from tests.grader.accuracy.conftest import random_net, save_model
from tests.grader.notebooks import seeds
from tests.grader.planting import COURSES, skip_without

ACCURACY_KEYS = {"val", "test", "printed_val", "source", "error"}


def test_the_measured_accuracy_is_graded_and_the_printed_one_only_shown(
    tmp_path: Path, synthetic_cifar: Path
) -> None:
    skip_without("cs231n-2021")
    student = tmp_path / "in" / "student"
    shutil.copytree(COURSES["cs231n-2021"], student)
    seeds.write(seeds.cs231n_fc(), student / "FullyConnectedNets.ipynb")  # prints val 0.544
    save_model(student / "best_model.npz", random_net())
    out = tmp_path / "out"
    (result,) = api.grade(
        [student], out=out, assignment="cs231n-2021", sandbox="process", data=synthetic_cifar
    )
    doc = json.loads((out / result.folder / "results.json").read_text())
    accuracy = doc["extra_data"]["accuracy"]
    assert ACCURACY_KEYS <= set(accuracy) and accuracy["error"] is None
    assert accuracy["source"] == "npz" and accuracy["printed_val"] == 0.544
    assert 0 <= accuracy["val"] <= 1 and 0 <= accuracy["test"] <= 1
    rules = get_spec("cs231n-2021").final_accuracy
    tests = {t["extra_data"]["check_id"]: t for t in doc["tests"]}
    for rule in rules:
        test = tests[rule.id]
        assert test["max_score"] == rule.points
        # A random net measures near chance: nothing of the printed 54.4% is paid.
        assert test["score"] < rule.points
        assert "the notebook printed validation accuracy 54.40%" in test["output"]
        assert "warning: the printed accuracy differs from the measured one" in test["output"]
    assert doc["extra_data"]["max_score"] == sum(t["max_score"] for t in doc["tests"])


def test_without_data_the_accuracy_is_left_out_and_said_so(tmp_path: Path) -> None:
    skip_without("cs231n-2021")
    student = tmp_path / "in" / "student"
    shutil.copytree(COURSES["cs231n-2021"], student)
    save_model(student / "best_model.npz", random_net())
    (result,) = api.grade([student], out=tmp_path / "out", sandbox="process")
    ids = {c.check_id for c in result.checks}
    assert not ids & {r.id for r in get_spec("cs231n-2021").final_accuracy}
    assert "accuracy not graded: no CIFAR-10 data (--data DIR)" in result.notes
    assert result.score == result.max_score > 0
