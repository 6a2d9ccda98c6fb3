"""The accuracy stage on a synthetic CIFAR folder: measured, never believed."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from grader.accuracy import data
from grader.accuracy.artifact import ArtifactError, Model
from grader.accuracy.check import NO_DATA, NotebookModel, grade_rules
from grader.accuracy.evaluate import reference_net
from grader.checks.oracle import LiveOracle
from grader.spec import FinalAccuracy
from tests.grader.accuracy.conftest import random_net, save_model

UCLA = FinalAccuracy(lower=32, upper=60, points=10, part="p")


def no_course(path: Path) -> Model:
    raise AssertionError(f"no course file expected, got {path}")


def test_loading_keeps_the_starters_split_and_mean(synthetic_cifar: Path) -> None:
    from reference.data import get_CIFAR10_data

    cifar = data.load(synthetic_cifar)
    ref = get_CIFAR10_data(
        num_training=500, num_validation=1000, num_test=400, cifar10_dir=synthetic_cifar
    )
    np.testing.assert_array_equal(cifar.val.batch(0, 1000, cifar.mean), ref["X_val"])
    np.testing.assert_array_equal(cifar.test.batch(0, 400, cifar.mean), ref["X_test"])
    np.testing.assert_array_equal(cifar.val.labels, ref["y_val"])


def test_without_data_the_rules_are_left_out_with_a_note(tmp_path: Path) -> None:
    acc = grade_rules([UCLA], tmp_path, None, oracle=LiveOracle(), open_course=no_course)
    assert (acc.outcomes, acc.checks, acc.extra, acc.notes) == ((), (), None, (NO_DATA,))


def test_the_measured_accuracy_is_graded_and_matches_the_reference_net(
    tmp_path: Path, synthetic_cifar: Path
) -> None:
    arrays = random_net(normalization="batchnorm")
    (tmp_path / "sub").mkdir()
    save_model(tmp_path / "sub" / "best_model.npz", arrays, "batchnorm")
    cifar = data.load(synthetic_cifar)
    acc = grade_rules([UCLA], tmp_path, cifar, oracle=LiveOracle(), open_course=no_course)
    (outcome,) = acc.outcomes
    # The same net, computed independently: every image at once.
    from grader.accuracy.artifact import from_arrays

    net = reference_net(from_arrays(arrays, "batchnorm"), LiveOracle())
    scores = net.loss(cifar.val.batch(0, 1000, cifar.mean))
    expected = int(np.sum(np.argmax(scores, axis=1) == cifar.val.labels))
    assert acc.extra is not None
    assert acc.extra["val"] == expected / 1000
    assert acc.extra["source"] == "npz"
    x = Fraction(expected * 100, 1000)
    assert outcome.credit == min(max(Fraction((x - 32).__floor__(), 28), Fraction(0)), Fraction(1))
    assert "measured by the grader (model from npz)" in outcome.message


def test_a_printed_60_percent_that_measures_lower_is_warned_and_the_measure_graded(
    tmp_path: Path, synthetic_cifar: Path
) -> None:
    save_model(tmp_path / "best_model.npz", random_net())
    notebook = NotebookModel(printed_val=0.60)
    cifar = data.load(synthetic_cifar)
    acc = grade_rules(
        [UCLA], tmp_path, cifar, oracle=LiveOracle(), open_course=no_course, notebook=notebook
    )
    (outcome,) = acc.outcomes
    assert acc.extra is not None and acc.extra["val"] < 0.5 and acc.extra["printed_val"] == 0.60
    assert "the notebook printed validation accuracy 60.00%" in outcome.message
    assert "warning: the printed accuracy differs from the measured one" in outcome.message
    assert outcome.credit is not None and outcome.credit < 1


def test_no_model_and_a_rejected_model_earn_nothing_and_say_why(
    tmp_path: Path, synthetic_cifar: Path
) -> None:
    cifar = data.load(synthetic_cifar)
    (none,) = grade_rules(
        [UCLA], tmp_path, cifar, oracle=LiveOracle(), open_course=no_course
    ).outcomes
    assert none.credit == 0 and "no model to grade: submit best_model.npz" in none.message
    arrays = random_net()
    arrays["W2"] = arrays["W2"][:3]
    save_model(tmp_path / "best_model.npz", arrays)
    acc = grade_rules([UCLA], tmp_path, cifar, oracle=LiveOracle(), open_course=no_course)
    (bad,) = acc.outcomes
    assert bad.credit == 0 and "the model was rejected: W2 has shape (3, 15)" in bad.message
    assert acc.extra is not None and acc.extra["val"] is None and acc.extra["error"]


def test_a_course_file_is_opened_through_the_given_loader_only(
    tmp_path: Path, synthetic_cifar: Path
) -> None:
    rule = FinalAccuracy(
        lower=50, upper=50, points=5, part="p", sources=("course-npy",), course_files=("m.npy",)
    )
    (tmp_path / "m.npy").write_bytes(b"never read by the grading process")
    seen: list[Path] = []

    def refuse(path: Path) -> Model:
        seen.append(path)
        raise ArtifactError("refused")

    acc = grade_rules(
        [rule], tmp_path, data.load(synthetic_cifar), oracle=LiveOracle(), open_course=refuse
    )
    assert seen == [tmp_path / "m.npy"]
    assert acc.extra is not None and acc.extra["source"] == "course-npy"
    assert "the model was rejected: refused" in acc.outcomes[0].message


@pytest.mark.parametrize("gap", [True, False])
def test_validation_far_above_test_is_flagged(gap: bool) -> None:
    from grader.accuracy.check import Found, _flags
    from grader.accuracy.evaluate import Measured

    found = Found("npz", val=Measured(600, 1000), test=Measured(5400 if gap else 5600, 10000))
    assert bool(_flags(found)) == gap
