"""Small hand-made results for the view tests: a check, a check whose every student-facing text
holds ``SECRET``, and a result of checks."""

from __future__ import annotations

from grader.results import CheckResult, Comparison, Raised, SubmissionResult

SECRET = "array([[0.31415926, 2.7182818]])"  # noqa: S105 - a stand-in for a hidden input


def check(
    check_id: str, visibility: str = "visible", status: str = "failed", **kw: object
) -> CheckResult:
    """A check of part ``fc`` worth 2 points, earned when it passed; ``kw`` overrides fields."""
    fields: dict[str, object] = {
        "check_id": check_id,
        "part": "fc",
        "title": f"{check_id} output",
        "status": status,
        "score": 2.0 if status == "passed" else 0.0,
        "max_score": 2.0,
        "visibility": visibility,
        "message": f"{check_id}: worst element got 1.5, expected 2.0",
        "seconds": 0.25,
    }
    fields.update(kw)
    return CheckResult(**fields)  # type: ignore[arg-type]


def secret_check(check_id: str, visibility: str) -> CheckResult:
    """A check that raised, whose every student-facing field carries ``SECRET``."""
    return check(
        check_id,
        visibility,
        status="error",
        message=f"raised ValueError: {SECRET} (layers.py, line 7)",
        output=f"DEBUG {SECRET}",
        diagnosis=f"looks like {SECRET}",
        comparisons=(Comparison(name="dx", passed=False, message=f"got {SECRET}"),),
        raised=Raised(type="ValueError", where=" (layers.py, line 7)"),
        redacted=f"redacted {SECRET}",
        notes=(f"note {SECRET}",),
    )


def result(*checks: CheckResult, name: str = "alice", **kw: object) -> SubmissionResult:
    """A cs231n-2021 result of ``checks``; ``kw`` sets other fields."""
    return SubmissionResult(
        name=name,
        assignment="cs231n-2021",
        detection="--assignment cs231n-2021",
        checks=checks,
        isolation="process",
        **kw,  # type: ignore[arg-type]
    )
