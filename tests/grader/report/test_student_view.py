"""The student view: what each visibility shows of a check, and that every view reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.report.gradescope import to_gradescope
from grader.report.render import render
from grader.report.student_view import student_check
from grader.report.terminal import check_table
from grader.results import CheckResult, Comparison, Raised, SubmissionResult

SECRET = "array([[0.123456789, 0.987654321]])"  # noqa: S105 - a stand-in for a hidden input, not a password
PRINTED = "DEBUG lr=0.0123456"


def raised_check(visibility: str, *, notes: tuple[str, ...] = ()) -> CheckResult:
    return CheckResult(
        check_id="adam",
        part="optim",
        title="adam",
        status="error",
        score=0.0,
        max_score=2.0,
        visibility=visibility,  # type: ignore[arg-type]
        message=f"raised ValueError: {SECRET} (optim.py, line 12)",
        notes=notes,
        output=PRINTED,
        raised=Raised(type="ValueError", where=" (optim.py, line 12)"),
    )


@pytest.mark.parametrize(
    ("visibility", "shown"),
    [("visible", True), ("hidden", False), ("after_due_date", False), ("after_published", False)],
)
def test_student_exception_text_and_output_show_only_for_visible_checks(
    visibility: str, shown: bool
) -> None:
    """A hidden check's inputs are in the student's reach: ``raise ValueError(repr(x))`` and
    ``print(x)`` must not carry them into anything a student sees."""
    view = student_check(raised_check(visibility))
    assert (SECRET in view.message) is shown
    assert (PRINTED in view.output) is shown
    assert "ValueError" in view.message and "optim.py, line 12" in view.message
    if not shown:
        assert (
            view.message
            == "raised ValueError (optim.py, line 12) (the message is not shown for hidden checks)"
        )


def test_notes_follow_the_message_whatever_the_visibility() -> None:
    assert student_check(raised_check("hidden", notes=("advisory",))).message.endswith(
        " (advisory)"
    )
    passed = CheckResult(
        check_id="s",
        part="p",
        title="s",
        status="passed",
        score=1.0,
        max_score=1.0,
        visibility="visible",
        message="all 2 comparisons passed",
        notes=("a", "b"),
    )
    assert student_check(passed).message == "all 2 comparisons passed (a; b)"


def test_a_failure_without_a_student_exception_keeps_its_message_when_hidden() -> None:
    """Comparison messages are the grader's words about the student's output, not student text."""
    failed = CheckResult(
        check_id="s",
        part="p",
        title="s",
        status="failed",
        score=0.0,
        max_score=1.0,
        visibility="hidden",
        message="dx: worst element ...",
        comparisons=(Comparison(name="dx", passed=False, message="worst element ..."),),
    )
    assert student_check(failed).message == "dx: worst element ..."


def test_every_view_reads_the_student_view(tmp_path: Path) -> None:
    """results.json, the check table and the terminal line never show the hidden text."""
    result = SubmissionResult(
        name="s",
        assignment="cs231n-2021",
        detection="--assignment cs231n-2021",
        checks=(raised_check("hidden"), raised_check("visible")),
        isolation="process",
        log=PRINTED,
    )
    doc = to_gradescope(result)
    hidden, visible = doc["tests"]
    assert SECRET not in json.dumps(hidden) and PRINTED not in json.dumps(hidden)
    assert SECRET in visible["output"] and PRINTED in visible["output"]
    table = check_table(
        SubmissionResult(
            name="s",
            assignment="a",
            detection="d",
            checks=(raised_check("hidden"),),
            isolation="process",
        )
    )
    assert SECRET not in table and "the message is not shown" in table
    path = render(result, tmp_path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(doc))
    assert (
        tmp_path / "s" / "output.txt"
    ).read_text() == PRINTED  # the instructor's log keeps everything
