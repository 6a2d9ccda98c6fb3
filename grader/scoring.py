"""Scoring: from what happened in each check (``Outcome``) to points (``CheckResult``). Pure.

Rules, in order:

* a check earns ``points * credit``: all its points when it passed (``credit`` None), none when
  it did not, or the fraction its own evidence earned (partial-credit checks set ``credit``);
* ``award = "informative"``: no points either way, and the check does not count;
* ``award = "with_value"`` (gradient checks): points only when the named value check passed too,
  since a backward consistent with a wrong forward is consistently wrong;
* a check that did not pass names its deepest failed dependency (``depends``) as the likely root
  cause; only a dependency that carries points can be one, and only one whose subject the check
  actually ran (``Outcome.exercised``, when known): a net that never calls the student's
  ``batchnorm_forward`` does not fail because of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from fractions import Fraction

from grader.results import CheckResult, Outcome
from grader.spec import Check

__all__ = ["earned", "root_cause", "score"]


def score(outcomes: Sequence[Outcome], checks: Sequence[Check]) -> tuple[CheckResult, ...]:
    """Score each outcome against its check (the two in the same order)."""
    if [o.check_id for o in outcomes] != [c.id for c in checks]:
        raise ValueError("outcomes and checks are not in the same order")
    by_id = {o.check_id: o for o in outcomes}
    by_check = {c.id: c for c in checks}
    return tuple(
        _scored(outcome, check, by_check, by_id)
        for outcome, check in zip(outcomes, checks, strict=True)
    )


def _scored(
    outcome: Outcome, check: Check, checks: Mapping[str, Check], outcomes: Mapping[str, Outcome]
) -> CheckResult:
    points, message = earned(outcome, check), outcome.message
    max_score, counts = check.points, True
    if check.award == "informative":
        points, max_score, counts = 0.0, 0.0, False
    elif check.award == "with_value" and outcome.status == "passed":
        value = outcomes.get(check.value_check or "")
        if value is None or value.status != "passed":
            points = 0.0
            message += (
                f"; no points: backward and forward agree, but the value check "
                f"{check.value_check!r} failed, so they are consistently wrong"
            )
    cause = root_cause(check.id, checks, outcomes) if outcome.status != "passed" else None
    happened = {f.name: getattr(outcome, f.name) for f in fields(Outcome)}
    return CheckResult(
        **{**happened, "message": message},
        part=check.part,
        title=check.title,
        score=points,
        max_score=max_score,
        visibility=check.visibility,  # type: ignore[arg-type]
        root_cause=cause,
        counts=counts,
    )


def earned(outcome: Outcome, check: Check) -> float:
    """Points the outcome earns by itself (before the award rules): ``points * credit``."""
    if outcome.credit is not None:
        return float(Fraction(check.points) * outcome.credit)
    return check.points if outcome.status == "passed" else 0.0


def root_cause(
    check_id: str, checks: Mapping[str, Check], outcomes: Mapping[str, Outcome]
) -> str | None:
    """The deepest failed dependency of a check, following ``depends`` transitively.

    Only dependencies that carry points can be a root cause: an optional check that was skipped
    or failed (e.g. extra-credit ``batchnorm_backward_alt``) explains nothing. Nor can one whose
    subject ``check_id`` did not run, when its outcome says what ran (``exercised``), unless the
    failure itself names that subject (a missing ``layernorm_forward`` cannot run, and is the
    cause of the ``NameError`` that says so).
    """
    own = outcomes.get(check_id)
    ran = own.exercised if own is not None else None
    if own is not None and ran is not None:
        named = set(re.findall(r"\w+", own.message))
        ran = (*ran, *(c.subject for c in checks.values() if c.subject in named))

    def failed(dep: str) -> bool:
        return (
            dep in outcomes
            and dep in checks
            and outcomes[dep].status != "passed"
            and checks[dep].points > 0
            and checks[dep].award != "informative"
            and (ran is None or checks[dep].subject in ran)
        )

    cause, seen = None, {check_id}
    current = check_id
    while True:
        nxt = next((d for d in checks[current].depends if d not in seen and failed(d)), None)
        if nxt is None:
            return cause
        cause, current = nxt, nxt
        seen.add(nxt)
