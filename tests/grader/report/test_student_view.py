"""The student view: what each visibility shows of a check, and that every view reads it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from grader.report.gradescope import to_gradescope
from grader.report.render import render
from grader.report.student_view import student_check, student_extra, student_view
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
    if visibility == "hidden":
        assert view.message == ""  # released or not, a hidden check shows no message at all
    else:
        assert "ValueError" in view.message and "optim.py, line 12" in view.message
    if visibility.startswith("after_"):
        assert (
            view.message
            == "raised ValueError (optim.py, line 12) (the message is not shown for hidden checks)"
        )


def test_notes_follow_the_message_wherever_a_message_is_shown() -> None:
    assert student_check(raised_check("after_due_date", notes=("advisory",))).message.endswith(
        " (advisory)"
    )
    assert student_check(raised_check("hidden", notes=("advisory",))).message == ""
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


@pytest.mark.parametrize(("visibility", "kept"), [("after_due_date", True), ("hidden", False)])
def test_a_comparison_message_shows_once_released_but_never_for_a_hidden_check(
    visibility: str, kept: bool
) -> None:
    """Comparison messages are the grader's words, but they quote expected values: a hidden
    check's would tell the answers at its hidden inputs."""
    failed = CheckResult(
        check_id="s",
        part="p",
        title="s",
        status="failed",
        score=0.0,
        max_score=1.0,
        visibility=visibility,  # type: ignore[arg-type]
        message="dx: worst element ...",
        diagnosis="looks like a known mistake",
        comparisons=(Comparison(name="dx", passed=False, message="worst element ..."),),
    )
    view = student_check(failed)
    assert (view.message == "dx: worst element ...") is kept and bool(view.comparisons) is kept
    assert view.diagnosis is None  # the diagnosis is for visible checks only


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
    assert SECRET not in table
    path = render(result, tmp_path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(doc))
    assert (
        tmp_path / "s" / "output.txt"
    ).read_text() == PRINTED  # the instructor's log keeps everything


def test_the_student_view_withholds_what_is_not_released_and_says_how_many_points() -> None:
    shown = [("visible", 1.0), ("after_due_date", 2.0), ("after_published", 3.0)]
    checks = (
        *(replace(raised_check(v), check_id=v, max_score=p, score=p) for v, p in shown),
        replace(raised_check("hidden"), max_score=4.0, score=0.0),
    )
    result = SubmissionResult(
        name="s", assignment="a", detection="d", checks=checks, isolation="process"
    )
    before = student_view(result)
    assert [c.check_id for c in before.checks] == ["visible"]
    assert (before.pending.count, before.pending.points) == (2, 5.0)
    assert (before.by_instructor.count, before.by_instructor.points) == (1, 4.0)
    assert (before.score, before.max_score) == (1.0, 1.0)  # a withheld result is not told
    released = student_view(result, release=True)
    assert len(released.checks) == 4 and released.pending.count == released.by_instructor.count == 0
    assert released.checks[3].message == "" and released.checks[3].output == ""


@pytest.mark.parametrize(("visibility", "shown"), [("visible", True), ("hidden", False)])
def test_the_measured_accuracy_shows_only_when_its_rule_is_visible(
    visibility: str, shown: bool
) -> None:
    accuracy = {"val": 0.51, "test": 0.49, "flags": ["val far above test"]}
    accuracy["grades"] = [{"check": "final_accuracy", "split": "val"}]
    rule = replace(raised_check(visibility), check_id="final_accuracy")
    result = SubmissionResult(
        name="s",
        assignment="a",
        detection="d",
        checks=(rule,),
        isolation="process",
        extra={"accuracy": accuracy, "notebooks": []},
    )
    extra = student_extra(result)
    assert ("accuracy" in extra) is shown and extra["notebooks"] == []
    assert "flags" not in extra.get("accuracy", {})  # the instructor's, never the student's
    assert ("0.49" in json.dumps(to_gradescope(result))) is shown
