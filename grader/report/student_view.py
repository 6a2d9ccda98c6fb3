"""What a student may see of a result: the one rule every view reads.

``results.json``, the terminal table and line (and later the HTML, CSV and JUnit views) render a
``StudentCheck`` made here, never a ``CheckResult`` directly, so no view can re-decide the rules:

* a check that is not ``visible`` (hidden until a date or for good) never shows what the
  student's code printed: its inputs entered the child, and the code could print them;
* nor the text of the student's exception: ``raise ValueError(repr(x))`` would print a hidden
  input. Only the exception's type and the place in the student's file are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.results import CheckResult, Comparison

__all__ = ["StudentCheck", "student_check"]


@dataclass(frozen=True)
class StudentCheck:
    """One check as a student may see it."""

    check_id: str
    """The spec's check id."""
    part: str
    """Part (notebook) id."""
    title: str
    """Short title."""
    status: str
    """passed / failed / error / timeout."""
    score: float
    """Points earned."""
    max_score: float
    """Points available."""
    counts: bool
    """False for informative checks."""
    visibility: str
    """The check's visibility (Gradescope's values)."""
    message: str
    """What happened, redacted for checks that are not visible, with the check's notes."""
    diagnosis: str | None
    """The known mistake the failure looks like."""
    root_cause: str | None
    """Check id of the failed dependency that likely explains the failure."""
    output: str
    """What the student's code printed during the check; empty unless the check is visible."""
    comparisons: tuple[Comparison, ...]
    """Every comparison made."""
    seconds: float
    """Wall time of the check (a timing field)."""


def student_check(check: CheckResult) -> StudentCheck:
    """The student's view of one check result."""
    visible = check.visibility == "visible"
    message = check.message
    if check.raised is not None and not visible:
        raised = check.raised
        message = f"raised {raised.type}{raised.where} (the message is not shown for hidden checks)"
    if check.notes:
        message += " (" + "; ".join(check.notes) + ")"
    return StudentCheck(
        check_id=check.check_id,
        part=check.part,
        title=check.title,
        status=check.status,
        score=check.score,
        max_score=check.max_score,
        counts=check.counts,
        visibility=check.visibility,
        message=message,
        diagnosis=check.diagnosis,
        root_cause=check.root_cause,
        output=check.output if visible else "",
        comparisons=check.comparisons,
        seconds=check.seconds,
    )
