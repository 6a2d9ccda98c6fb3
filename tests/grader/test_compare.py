"""The one tolerance rule (``grader.compare``): verdicts, counts and the exact messages.

Each row is ``(actual, expected, rtol, atol)`` and what ``compare`` must return. The messages are
pinned verbatim because they are what a student reads in the report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from grader.child.protocol import Handle
from grader.compare import compare, rel_error
from grader.results import Comparison

NAN, INF = float("nan"), float("inf")
F64 = {"rtol": 1e-6, "atol": 1e-8}  # the specs' float64 default


def check(
    result: Comparison,
    *,
    passed: bool,
    message: str,
    mismatched: int = 0,
    total: int = 0,
    max_abs_err: float | None = None,
    max_rel_err: float | None = None,
) -> None:
    assert (result.passed, result.message) == (passed, message)
    assert (result.mismatched, result.total) == (mismatched, total)
    for got, want in ((result.max_abs_err, max_abs_err), (result.max_rel_err, max_rel_err)):
        if want is None:
            assert got is None
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=0, nan_ok=True)


# -- the rule: |actual - expected| <= atol + rtol * |expected| -------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected", "rtol", "atol", "passed"),
    [
        # Dyadic numbers, so the boundary is exact: threshold = 1/64 + 8/16 = 0.515625.
        (8.515625, 8.0, 2**-4, 2**-6, True),  # |diff| == threshold: inside (<=)
        (7.484375, 8.0, 2**-4, 2**-6, True),  # the same below the expected value
        (8.53125, 8.0, 2**-4, 2**-6, False),  # just beyond
        (7.46875, 8.0, 2**-4, 2**-6, False),
        # Asymmetric: the same pair passes or fails depending on which side is the reference.
        (1.0, 2.0, 0.5, 0.0, True),  # threshold 0.5 * |2| = 1 >= |diff| 1
        (2.0, 1.0, 0.5, 0.0, False),  # threshold 0.5 * |1| = 0.5 < |diff| 1
        # Near zero only atol is left.
        (1e-9, 0.0, 1e-6, 1e-8, True),
        (2e-8, 0.0, 1e-6, 1e-8, False),
        (-2e-8, 0.0, 1e-6, 1e-8, False),
        # rtol scales with the expected value, not the actual one.
        (1e6 + 0.9, 1e6, 1e-6, 0.0, True),
        (0.9 + 1e-6, 0.9, 1e-6, 0.0, False),
    ],
)
def test_the_tolerance_rule_is_asymmetric_and_inclusive(
    actual: float, expected: float, rtol: float, atol: float, passed: bool
) -> None:
    """Pins ``|a - e| <= atol + rtol * |e|`` with ``e`` the reference, boundary included."""
    assert compare("x", actual, expected, rtol=rtol, atol=atol).passed is passed


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])),
        (np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0])),  # int arrays compare
        (np.array([1, 2, 3], dtype=np.uint8), [1.0, 2.0, 3.0]),
        (np.array([True, False, True]), np.array([1.0, 0.0, 1.0])),  # bool arrays compare
        (np.array([1.0, 2.0, 3.0], dtype=np.float32), np.array([1.0, 2.0, 3.0])),
        ([1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0])),  # students sometimes return lists
        ((1, 2, 3), np.array([1.0, 2.0, 3.0])),
    ],
)
def test_numeric_arrays_lists_and_tuples_pass(actual: Any, expected: Any) -> None:
    """Pins which student values count as numeric arrays and the message of a pass."""
    check(
        compare("out", actual, expected, **F64),
        passed=True,
        message="max abs err 0 (rel_error 0)",
        total=3,
        max_abs_err=0.0,
        max_rel_err=0.0,
    )


def test_a_pass_reports_the_largest_errors() -> None:
    """Pins ``max_abs_err``/``max_rel_err`` of a passing comparison and how they are printed."""
    step = 2.0**-21  # exact in float64; below the threshold 1e-8 + 1e-6 * 2
    result = compare("dx", np.array([1.0, -2.0 - step]), np.array([1.0, -2.0]), **F64)
    check(
        result,
        passed=True,
        message="max abs err 4.77e-07 (rel_error 1.19e-07)",
        total=2,
        max_abs_err=step,
        max_rel_err=step / (4.0 + step),
    )
    assert result.name == "dx"


# -- scalars ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actual",
    [
        2.5,
        np.float64(2.5),
        np.float32(2.5),
        np.array(2.5),
        np.array([2.5]),
        np.array([[2.5]]),
        [2.5],
        (2.5,),
    ],
    ids=["float", "np.float64", "np.float32", "0-d", "(1,)", "(1, 1)", "list", "tuple"],
)
def test_a_scalar_reference_accepts_any_size_1_value(actual: Any) -> None:
    """Pins that a 0-d expected value takes a number, a 0-d array or any size-1 array."""
    check(
        compare("loss", actual, 2.5, **F64),
        passed=True,
        message="max abs err 0 (rel_error 0)",
        total=1,
        max_abs_err=0.0,
        max_rel_err=0.0,
    )


def test_a_failing_scalar_names_no_index() -> None:
    """Pins the mismatch message of a 0-d comparison (no ``at index``)."""
    check(
        compare("loss", 2.0, 1.0, rtol=0.5, atol=0.0),
        passed=False,
        message="1 of 1 values differ; worst: got 2, expected 1 "
        "(|diff| 1 > threshold 0.5 = atol 0 + rtol 0.5·|expected|)",
        mismatched=1,
        total=1,
        max_abs_err=1.0,
        max_rel_err=1 / 3,
    )


# -- shapes and kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected", "message"),
    [
        (np.zeros((2, 3)), np.zeros((3, 2)), "expected shape (3, 2), got (2, 3)"),
        (np.zeros(6), np.zeros((2, 3)), "expected shape (2, 3), got (6,)"),
        # No broadcasting, in either direction.
        (np.zeros(3), np.zeros((2, 3)), "expected shape (2, 3), got (3,)"),
        (np.zeros((1, 3)), np.zeros(3), "expected shape (3,), got (1, 3)"),
        # Only a 0-d reference unwraps size-1 values; a (1,) reference wants shape (1,).
        (1.0, np.zeros(1), "expected shape (1,), got ()"),
        (np.zeros((1, 1)), np.zeros(1), "expected shape (1,), got (1, 1)"),
        (np.zeros(2), 0.0, "expected shape (), got (2,)"),
        ([], np.zeros(1), "expected shape (1,), got (0,)"),
    ],
)
def test_shapes_must_match_exactly(actual: Any, expected: Any, message: str) -> None:
    """Pins the shape-mismatch message; nothing is counted or measured then."""
    check(compare("x", actual, expected, **F64), passed=False, message=message)


@pytest.mark.parametrize(
    ("actual", "what"),
    [
        pytest.param(None, "None", id="None"),
        pytest.param("0.5", "str", id="str"),
        pytest.param({"W1": 1.0}, "dict", id="dict"),
        pytest.param(1 + 2j, "complex", id="complex"),
        pytest.param(Handle("h1", "tuple"), "Handle", id="handle"),
        pytest.param(np.array([1, 2], dtype=object), "an array of dtype object", id="object-array"),
        pytest.param(np.array(["1", "2"]), "an array of dtype <U1", id="str-array"),
        pytest.param(np.array([1j, 2j]), "an array of dtype complex128", id="complex-array"),
        pytest.param(["1", "2"], "an array of dtype <U1", id="list-of-str"),
        pytest.param([1.0, None], "an array of dtype object", id="list-with-None"),
        pytest.param([[1.0], [1.0, 2.0]], "a ragged list", id="ragged-list"),
        pytest.param(((1.0,), (1.0, 2.0)), "a ragged tuple", id="ragged-tuple"),
    ],
)
def test_non_numeric_values_fail_with_what_they_are(actual: Any, what: str) -> None:
    """Pins that object, string, complex and ragged values fail (never raise) and are named."""
    message = f"expected an array of shape (2,), got {what}"
    check(compare("x", actual, np.zeros(2), **F64), passed=False, message=message)


# -- mismatches: counts, worst element, message -------------------------------------------------


def test_a_mismatch_names_the_count_the_worst_index_both_values_and_the_threshold() -> None:
    """Pins the full mismatch message of a 1-d comparison."""
    check(
        compare("out", np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]), **F64),
        passed=False,
        message="1 of 3 values differ; worst at index (2,): got 3.5, expected 3 "
        "(|diff| 0.5 > threshold 3.01e-06 = atol 1e-08 + rtol 1e-06·|expected|)",
        mismatched=1,
        total=3,
        max_abs_err=0.5,
        max_rel_err=0.5 / 6.5,
    )


def test_the_worst_element_is_the_one_furthest_beyond_its_threshold() -> None:
    """Pins "worst" as the largest |diff| - threshold, which need not be the largest |diff|."""
    actual, expected = np.array([[1001.1, 0.5]]), np.array([[1000.0, 0.0]])
    check(
        compare("scores", actual, expected, rtol=1e-3, atol=0.0),
        passed=False,
        message="2 of 2 values differ; worst at index (0, 1): got 0.5, expected 0 "
        "(|diff| 0.5 > threshold 0 = atol 0 + rtol 0.001·|expected|)",
        mismatched=2,
        total=2,
        max_abs_err=1001.1 - 1000.0,
        max_rel_err=1.0,
    )


def test_values_print_with_ten_significant_digits() -> None:
    """Pins the ``.10g`` formatting of the got/expected values in a message."""
    result = compare("x", np.array([0.12345678912345]), np.array([0.1]), **F64)
    assert result.message.startswith(
        "1 of 1 values differ; worst at index (0,): got 0.1234567891, "
    )


def test_empty_arrays_pass_with_nothing_compared() -> None:
    """Pins that two empty arrays of the same shape pass with zero errors."""
    check(
        compare("x", np.zeros((0, 3)), np.zeros((0, 3)), **F64),
        passed=True,
        message="max abs err 0 (rel_error 0)",
        total=0,
        max_abs_err=0.0,
        max_rel_err=0.0,
    )


# -- NaN and inf --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected", "message", "mismatched"),
    [
        (
            np.array([1.0, NAN, 3.0]),
            np.array([1.0, 2.0, 3.0]),
            "student output has NaN at index (1,) where 2 was expected",
            1,
        ),
        (
            np.array([[1.0, 2.0], [INF, NAN]]),
            np.array([[1.0, 2.0], [3.0, 4.0]]),
            "student output has inf at index (1, 0) where 3 was expected",
            2,
        ),
        (
            np.array([-INF, 1.0]),
            np.array([0.5, 1.0]),
            "student output has -inf at index (0,) where 0.5 was expected",
            1,
        ),
        (NAN, 1.0, "student output has NaN at index () where 1 was expected", 1),
        (np.float32("inf"), 1.0, "student output has inf at index () where 1 was expected", 1),
    ],
)
def test_nan_or_inf_where_the_reference_is_finite_fails(
    actual: Any, expected: Any, message: str, mismatched: int
) -> None:
    """Pins the first non-finite position (C order) in the message and the count of all of them."""
    total = int(np.size(expected))
    check(
        compare("x", actual, expected, **F64),
        passed=False,
        message=message,
        mismatched=mismatched,
        total=total,
    )


def test_non_finite_reference_values_matched_exactly_pass() -> None:
    """Pins numpy's rule: the same inf, or NaN for NaN, is equal; errors ignore those positions."""
    step = 2.0**-20  # exact in float64; below the threshold 1e-8 + 1e-6 * 1
    check(
        compare(
            "x", np.array([INF, NAN, -INF, 1.0 + step]), np.array([INF, NAN, -INF, 1.0]), **F64
        ),
        passed=True,
        message="max abs err 9.54e-07 (rel_error 4.77e-07)",
        total=4,
        max_abs_err=step,
        max_rel_err=step / (2.0 + step),
    )


@pytest.mark.parametrize(
    ("actual", "expected", "message", "mismatched"),
    [
        (
            np.array([1.0, 5.0]),
            np.array([INF, 5.0]),
            "1 of 2 values differ; worst at index (0,): got 1, expected inf",
            1,
        ),
        (
            np.array([-INF]),
            np.array([INF]),
            "1 of 1 values differ; worst at index (0,): got -inf, expected inf",
            1,
        ),
        (
            np.array([NAN]),
            np.array([INF]),
            "1 of 1 values differ; worst at index (0,): got nan, expected inf",
            1,
        ),
        (
            np.array([INF]),
            np.array([NAN]),
            "1 of 1 values differ; worst at index (0,): got inf, expected nan",
            1,
        ),
        (
            np.array([0.0]),
            np.array([NAN]),
            "1 of 1 values differ; worst at index (0,): got 0, expected nan",
            1,
        ),
        (1e300, INF, "1 of 1 values differ; worst: got 1e+300, expected inf", 1),
        (
            np.array([2.0, 7.0]),
            np.array([1.0, -INF]),
            "2 of 2 values differ; worst at index (1,): got 7, expected -inf",
            2,
        ),
    ],
)
def test_a_non_finite_reference_value_is_not_matched_by_anything_else(
    actual: Any, expected: Any, message: str, mismatched: int
) -> None:
    """Pins that a finite (or other non-finite) value never matches an inf or NaN reference.

    The tolerance arithmetic gives NaN there (inf - inf, NaN - x), which never compares above the
    threshold; such positions are mismatches in their own right, and the worst of all.
    """
    result = compare("x", actual, expected, **F64)
    assert not result.passed
    assert result.message == f"{message} (a non-finite expected value must be matched exactly)"
    assert (result.mismatched, result.total) == (mismatched, int(np.size(expected)))


def test_extreme_student_values_never_warn() -> None:
    """Pins that compare stays silent (``filterwarnings = error``) on overflowing differences."""
    result = compare("x", np.array([-1.7e308]), np.array([1.7e308]), **F64)
    assert not result.passed and result.max_abs_err == INF


# -- rel_error ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (1.0, 1.0, 0.0),
        (1.0, 3.0, 0.5),  # |1 - 3| / (1 + 3)
        (3.0, 1.0, 0.5),  # symmetric, unlike the rule
        (-1.0, 1.0, 1.0),
        ([1.0, 1.0], [1.0, 3.0], 0.5),  # the maximum over elements
        (np.array([[2.0, 4.0]]), np.array([[1.0, 4.0]]), 1 / 3),
        (0.0, 1e-10, 1e-2),  # the denominator's floor is 1e-8
        (0.0, 0.0, 0.0),
        (np.zeros(0), np.zeros(0), 0.0),  # nothing to compare
        (3, 1, 0.5),  # ints are fine
    ],
)
def test_rel_error_is_cs231ns_formula(x: Any, y: Any, expected: float) -> None:
    """Pins ``max |x - y| / max(1e-8, |x| + |y|)``, returned as a Python float."""
    value = rel_error(x, y)
    assert type(value) is float
    assert math.isclose(value, expected, rel_tol=1e-12)
