"""instructor.json: the whole result, read back as the very same result, in its schema."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from grader.compare import compare
from grader.report.instructor import FORMAT, from_instructor, instructor_json, to_instructor
from grader.report.validate import validate
from grader.results import CheckResult, ModuleProblem, Raised, SubmissionResult


def rich_result() -> SubmissionResult:
    """A result using every field, with non-finite floats and fractional credit."""
    failing = compare(
        "dx", np.array([[1.0, np.nan], [np.inf, 2.0]]), np.ones((2, 2)), rtol=1e-7, atol=0
    )
    wrong = compare("dw", np.arange(6.0).reshape(2, 3), np.zeros((2, 3)), rtol=1e-7, atol=0)
    problem = ModuleProblem(
        "cs231n/layers.py", "SyntaxError: invalid syntax", "cs231n/layers.py", 3
    )
    checks = (
        CheckResult(
            check_id="affine_backward",
            status="failed",
            message="dx: 2 of 4 values differ",
            notes=("advisory",),
            comparisons=(failing, wrong),
            diagnosis="forgot to reshape",
            output="printed\n",
            seconds=0.25,
            credit=Fraction(2, 3),
            curves={"loss": (2.3, float("nan"), 1.9)},
            exercised=("affine_backward",),
            part="layers",
            title="affine backward",
            score=2 / 3,
            max_score=1.0,
            visibility="visible",
            root_cause="affine_forward",
        ),
        CheckResult(
            check_id="adam",
            status="error",
            message="raised ValueError: secret",
            raised=Raised("ValueError", " (optim.py, line 3)", "importing: "),
            redacted="raised ValueError",
            blocked_by=problem,
            part="optim",
            title="adam",
            score=0.0,
            max_score=2.0,
            visibility="hidden",
            counts=False,
        ),
    )
    return SubmissionResult(
        name="Ana María_123_assignsubmission_file_",
        assignment="cs231n-2021",
        detection="--assignment cs231n-2021",
        checks=checks,
        isolation="bwrap",
        error=None,
        notes=("a note",),
        seconds=3.5,
        extra={"accuracy": {"val": 0.51, "error": None, "grades": [{"check": "affine_backward"}]}},
        log="everything printed",
        folder="Ana María_123_assignsubmission_file_",
        files={"a.html": "<html></html>"},
    )


def test_the_round_trip_gives_back_the_same_result() -> None:
    result = rich_result()
    back = from_instructor(json.loads(instructor_json(result)))
    # NaN is not equal to itself: compare the documents, then the fields NaN does not touch.
    assert to_instructor(back) == to_instructor(result)
    assert back.checks[0].credit == Fraction(2, 3)
    assert back.checks[1] == result.checks[1]
    assert back.checks[0].comparisons[1] == result.checks[0].comparisons[1]
    assert back.score == pytest.approx(result.score)


def test_the_document_conforms_to_its_schema_and_is_strict_json() -> None:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    doc = json.loads(instructor_json(rich_result()), parse_constant=refuse)
    validate("instructor", doc)
    assert doc["format"] == FORMAT
    assert doc["checks"][0]["comparisons"][0]["errors"]["grid"] == [[0.0, "nan"], ["inf", 1.0]]


def test_a_field_the_schema_does_not_know_fails_validation() -> None:
    """The schema pins the form: a field added to the result without the schema is caught."""
    doc = to_instructor(rich_result())
    doc["checks"][0]["surprise"] = 1
    with pytest.raises(ValueError, match="checks/0"):
        validate("instructor", doc)


@pytest.mark.parametrize(
    "doc",
    [{}, {"format": "nngrader-instructor/0"}, [], {"format": FORMAT, "name": "x"}],
)
def test_a_document_that_is_not_ours_is_refused_with_a_reason(doc: object) -> None:
    with pytest.raises(ValueError, match="nngrader-instructor/1"):
        from_instructor(doc)  # type: ignore[arg-type]
