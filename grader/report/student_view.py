"""What a student may see of a result: the one rule every view reads.

``results.json``, the terminal table and line (and later the HTML, CSV and JUnit views) render a
``StudentCheck`` made here, never a ``CheckResult`` directly, so no view can re-decide the rules:

* a check that is not ``visible`` (hidden until a date or for good) never shows what the
  student's code printed: its inputs entered the child, and the code could print them;
* nor the text of the student's exception: ``raise ValueError(repr(x))`` would print a hidden
  input. Only the exception's type and the place in the student's file are shown.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NewType

from grader.results import CheckResult

__all__ = ["StudentCheck", "student_check"]


StudentCheck = NewType("StudentCheck", CheckResult)
"""A check result as a student may see it: what views render (a distinct type, so that mypy
refuses a view handed a raw ``CheckResult``)."""


def student_check(check: CheckResult) -> StudentCheck:
    """The student's view of one check result.

    The message is redacted where the rules say so and carries the check's notes; ``output`` is
    empty unless the check is visible; nothing else changes.
    """
    visible = check.visibility == "visible"
    message = check.message
    if check.raised is not None and not visible:
        raised = check.raised
        message = f"raised {raised.type}{raised.where} (the message is not shown for hidden checks)"
    if check.notes:
        message += " (" + "; ".join(check.notes) + ")"
    return StudentCheck(
        replace(
            check, message=message, notes=(), output=check.output if visible else "", raised=None
        )
    )
