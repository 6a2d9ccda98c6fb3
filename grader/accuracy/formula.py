"""The spec's accuracy grade, computed exactly.

``X = correct * 100 / N`` is a ``Fraction``, never a float: ``0.57 * 100 - 32`` is
24.999999999999993 in floating point and floors to 24, where 570 correct of 1000 earns 25. The
rule (``[final_accuracy]``): ``credit = clip(floor(X - lower) / (upper - lower), 0, 1)``, so
UCLA's ``lower = 32, upper = 60`` is ``min(max(floor(X - 32), 0), 28) / 28``; ``lower == upper``
is a threshold: all points when ``X >= upper``, none below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from grader.spec import FinalAccuracy

__all__ = ["Grade", "grade", "percent"]


@dataclass(frozen=True)
class Grade:
    """The rule applied to one measured accuracy."""

    credit: Fraction
    """Fraction of the rule's points earned, in [0, 1]."""
    points: Fraction
    """``rule.points * credit``, exact."""
    worked: str
    """The formula with the numbers in, as the report shows it."""


def percent(correct: int, total: int) -> Fraction:
    """``correct`` of ``total`` as an exact percentage."""
    return Fraction(correct * 100, total)


def grade(rule: FinalAccuracy, correct: int, total: int) -> Grade:
    """Apply ``rule`` to ``correct`` right answers of ``total``.

    Raises:
        ValueError: ``total`` is not positive or ``correct`` is outside ``[0, total]``.
    """
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"{correct} correct of {total} is not an accuracy")
    x = percent(correct, total)
    lower, upper, points = Fraction(rule.lower), Fraction(rule.upper), Fraction(rule.points)
    shown = f"X = {correct} * 100 / {total} = {_num(x)}"
    if lower == upper:
        credit = Fraction(1 if x >= upper else 0)
        worked = f"{shown}; X >= {_num(upper)}: {'yes' if credit else 'no'}"
    else:
        floored = math.floor(x - lower)
        span = upper - lower
        credit = min(max(Fraction(floored) / span, Fraction(0)), Fraction(1))
        worked = (
            f"{shown}; min(max(floor(X - {_num(lower)}), 0), {_num(span)}) / {_num(span)} "
            f"= min(max({floored}, 0), {_num(span)}) / {_num(span)} = {_num(credit)}"
        )
    earned = points * credit
    return Grade(credit, earned, f"{worked}; * {_num(points)} points = {_num(earned)}")


def _num(value: Fraction) -> str:
    """An exact number as a person reads it: ``57``, ``45.5``, ``25/28 (0.8929)``."""
    if value.denominator == 1:
        return str(value.numerator)
    as_decimal = f"{float(value):.4f}".rstrip("0")
    if Fraction(as_decimal) == value:
        return as_decimal
    return f"{value.numerator}/{value.denominator} ({float(value):.4f})"
