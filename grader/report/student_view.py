"""What a student may see of a result: the one rule every view reads.

``results.json``, the terminal, the HTML student report, JUnit and the Markdown summary render
``StudentCheck`` values made here, never a ``CheckResult`` directly, so no view can re-decide the
rules. Per visibility (docs: issue 13's table):

============================  =============================  ================================
visibility                    before release                 released (``--release``,
                                                             and Gradescope's results.json)
============================  =============================  ================================
``visible``                   everything: message, diagnosis, what the code printed
``after_due_date``,           only "N points pending"        name, status, points, message
``after_published``                                          (no inputs, no output)
``hidden``                    only "N points graded by       name, status, points; never
                              your instructor"               message, inputs or output
============================  =============================  ================================

``results.json`` holds the released form of every check with its visibility, because Gradescope
itself withholds a test until its visibility allows; the HTML student report withholds before
release, and says how many points it withholds.

Even released, a check that is not ``visible`` never shows what the student's code printed (its
inputs entered the child, and the code could print them) nor the text of the student's
exception (``raise ValueError(repr(x))``): only the exception's type, when it is one of Python's
or numpy's own, and the place in a real file of the workspace (checked by
``grader.checks.execute``); nor any other message that quotes the child's words
(``Outcome.redacted``). A hidden check shows no message at all: even the grader's own words
(``worst: got 1.5, expected 2.0``) would tell its expected values.

Hidden checks run after every visible one, in a child of their own (``grader.checks.execute``):
nothing shown for a visible check was printed or raised after a hidden input entered a process.
Every string from the child was sanitized on arrival (``grader.sanitize``), so views print no
control characters either way.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from typing import Any, NewType

from grader.results import CheckResult, Raised, SubmissionResult

__all__ = [
    "PUBLIC_TYPES",
    "StudentCheck",
    "StudentView",
    "Withheld",
    "student_check",
    "student_view",
]


StudentCheck = NewType("StudentCheck", CheckResult)
"""A check result as a student may see it: what views render (a distinct type, so that mypy
refuses a view handed a raw ``CheckResult``)."""


def student_check(check: CheckResult) -> StudentCheck:
    """The student's view of one check result, as released (results.json's form).

    A visible check keeps everything; any other check loses what the code printed, its
    diagnosis and root cause, and the student's own words in its message; a hidden check also
    loses its message and comparisons. The check's notes join the message where one is shown.
    """
    visible = check.visibility == "visible"
    message = check.message
    if check.visibility == "hidden":
        message = ""
    elif not visible and check.raised is not None:
        message = _hidden_raised(check.raised)
    elif not visible and check.redacted is not None:
        message = check.redacted
    if check.notes and message:
        message += " (" + "; ".join(check.notes) + ")"
    return StudentCheck(
        replace(
            check,
            message=message,
            notes=(),
            output=check.output if visible else "",
            diagnosis=check.diagnosis if visible else None,
            root_cause=check.root_cause if visible else None,
            comparisons=check.comparisons if check.visibility != "hidden" else (),
            curves=check.curves if visible else {},
            raised=None,
            redacted=None,
            blocked_by=check.blocked_by if visible else None,
            exercised=None,
        )
    )


@dataclass(frozen=True)
class Withheld:
    """Checks a student view leaves out, said only as their number and their points."""

    count: int = 0
    points: float = 0.0
    """Points available in them (never what they earned)."""


@dataclass(frozen=True)
class StudentView:
    """What the student report shows of one result."""

    checks: tuple[StudentCheck, ...]
    """The checks shown, in spec order, each through ``student_check``."""
    pending: Withheld
    """``after_due_date``/``after_published`` checks not yet released: "N points pending"."""
    by_instructor: Withheld
    """Hidden checks not released: "N points graded by your instructor"."""

    @property
    def score(self) -> float:
        """Points earned in the checks shown (a withheld check's result is not told)."""
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        """Points available in the checks shown."""
        return sum(c.max_score for c in self.checks)


def student_view(result: SubmissionResult, *, release: bool = False) -> StudentView:
    """The student's view of ``result``: every visible check, and the others only once released
    (``nngrader report DIR --release``)."""
    shown = [c for c in result.checks if release or c.visibility == "visible"]
    later = [c for c in result.checks if not release and c.visibility.startswith("after_")]
    hidden = [c for c in result.checks if not release and c.visibility == "hidden"]
    return StudentView(
        checks=tuple(map(student_check, shown)),
        pending=Withheld(len(later), sum(c.max_score for c in later)),
        by_instructor=Withheld(len(hidden), sum(c.max_score for c in hidden)),
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


def student_extra(result: SubmissionResult) -> dict[str, Any]:
    """``result.extra`` as a student may see it (results.json's ``extra_data``, summaries).

    The measured accuracy shows only when every accuracy rule's check is visible: a hidden rule's
    numbers would tell its result. The instructor's flags on it (validation far above test)
    never show.
    """
    extra = dict(result.extra)
    accuracy = extra.pop("accuracy", None)
    if isinstance(accuracy, dict):
        grades = accuracy.get("grades")
        rules = {g.get("check") for g in grades if isinstance(g, dict)} if grades else set()
        visible = {c.check_id for c in result.checks if c.visibility == "visible"}
        if rules and rules <= visible:
            extra["accuracy"] = {k: v for k, v in accuracy.items() if k != "flags"}
    return extra
