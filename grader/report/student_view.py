"""What a student may see of a result: the one rule every view reads.

``results.json``, the terminal table and line (and later the HTML, CSV and JUnit views) render a
``StudentCheck`` made here, never a ``CheckResult`` directly, so no view can re-decide the rules:

* a check that is not ``visible`` (hidden until a date or for good) never shows what the
  student's code printed: its inputs entered the child, and the code could print them;
* nor the text of the student's exception: ``raise ValueError(repr(x))`` would print a hidden
  input. Only the exception's type, when it is one of Python's or numpy's own (a class of the
  student's own is named by the student: ``type(repr(x), (Exception,), {})``), and the place in
  a real file of the workspace (checked by ``grader.checks.execute``) are shown;
* nor any other message that quotes the child's words (a missing name, an ungradable value, a
  broken protocol): the check stage words each of them without it (``Outcome.redacted``).

Hidden checks run after every visible one, in a child of their own (``grader.checks.execute``):
nothing shown for a visible check was printed or raised after a hidden input entered a process.
Every string from the child was sanitized on arrival (``grader.sanitize``), so views print no
control characters either way.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import NewType

from grader.results import CheckResult, Raised

__all__ = ["PUBLIC_TYPES", "StudentCheck", "student_check"]


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
    if not visible and check.raised is not None:
        message = _hidden_raised(check.raised)
    elif not visible and check.redacted is not None:
        message = check.redacted
    if check.notes:
        message += " (" + "; ".join(check.notes) + ")"
    return StudentCheck(
        replace(
            check,
            message=message,
            notes=(),
            output=check.output if visible else "",
            raised=None,
            redacted=None,
        )
    )


PUBLIC_TYPES = frozenset(
    name
    for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, BaseException)
) | {"LinAlgError", "AxisError", "ProtocolError"}
"""Exception class names a hidden check may show: Python's, numpy's and the protocol's own. Any
other name was chosen by the student's code."""


def _hidden_raised(raised: Raised) -> str:
    if raised.type in PUBLIC_TYPES:
        return (
            f"{raised.context}raised {raised.type}{raised.where} "
            "(the message is not shown for hidden checks)"
        )
    return (
        f"{raised.context}raised an exception of its own class{raised.where} "
        "(its name and message are not shown for hidden checks)"
    )
