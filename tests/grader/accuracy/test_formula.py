"""The accuracy grade is exact: X = correct * 100 / N as a fraction, floor(X - lower)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from grader.accuracy.formula import grade
from grader.spec import FinalAccuracy

UCLA = FinalAccuracy(lower=32, upper=60, points=10)
THRESHOLD = FinalAccuracy(lower=50, upper=50, points=10)


@pytest.mark.parametrize(
    ("correct", "total", "credit"),
    [
        (319, 1000, Fraction(0)),  # 31.9
        (320, 1000, Fraction(0)),  # 32
        (455, 1000, Fraction(13, 28)),  # 45.5: floor(13.5)
        (570, 1000, Fraction(25, 28)),  # 57: 0.57 * 100 - 32 floors to 24 in floats
        (5999, 10000, Fraction(27, 28)),  # 59.99
        (600, 1000, Fraction(1)),  # 60
        (1000, 1000, Fraction(1)),  # 100: capped
    ],
)
def test_ucla_formula_at_the_listed_accuracies(correct: int, total: int, credit: Fraction) -> None:
    result = grade(UCLA, correct, total)
    assert result.credit == credit
    assert result.points == 10 * credit


def test_the_float_product_would_have_floored_57_to_24() -> None:
    import math

    assert math.floor(0.57 * 100 - 32) == 24  # why the grade never multiplies floats
    assert "min(max(25, 0), 28) / 28" in grade(UCLA, 570, 1000).worked


@pytest.mark.parametrize(("correct", "earned"), [(499, 0), (500, 10), (501, 10)])
def test_a_threshold_gives_all_points_at_upper_and_none_below(correct: int, earned: int) -> None:
    assert grade(THRESHOLD, correct, 1000).points == earned


@pytest.mark.parametrize(("correct", "total"), [(1, 0), (-1, 10), (11, 10)])
def test_impossible_counts_are_refused(correct: int, total: int) -> None:
    with pytest.raises(ValueError, match="not an accuracy"):
        grade(UCLA, correct, total)
