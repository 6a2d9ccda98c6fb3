"""Runs a spec's checks against one submission's child and reports what happened.

Each check gets a fresh, seeded state in the child; whatever the student's code does (raise, hang,
die, return garbage) fails that check only. The result of each check is an ``Outcome``: what
happened, no points (``grader.scoring`` decides those).

Two phases, so that no input of a hidden check reaches anything a student sees: every visible
check runs first, in one child; the checks that are not visible (``visibility != "visible"``)
run after all of them, in a fresh child with a fresh scratch folder (``sessions("hidden")``).
Module globals, files and processes of the hidden phase therefore never meet a visible check, and
what the hidden phase prints belongs to hidden checks only, whose output the student view drops.
Outcomes come back in spec order whatever the phase, so scoring and reports are unchanged.

A module that does not import is described once (``Outcome.blocked_by``, a ``ModuleProblem``
that ``grader.pipeline.assemble`` reports once); each check that needs it says it is blocked
and points there (``grader.checks.imports``). After a check that did not pass, the child's
record of which student functions ran (``Outcome.exercised``) lets scoring name only a root
cause the check actually ran.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.checks.context import Context
from grader.checks.imports import blocked_message, module_problem, where
from grader.checks.oracle import Oracle
from grader.checks.registry import IMPLEMENTATIONS
from grader.errors import (
    BadReturn,
    ModuleBlocked,
    NotInKit,
    StudentCrashed,
    StudentFailure,
    StudentMissing,
    StudentRaised,
    StudentTimeout,
    StudentUngradable,
)
from grader.results import Comparison, ModuleProblem, Outcome, Raised, Status
from grader.sandbox.limits import Limits
from grader.sandbox.session import ProtocolBroken, Session
from grader.spec import Check, Spec

__all__ = ["HIDDEN", "PHASES", "VISIBLE", "OpenSession", "phases", "run_checks"]

log = logging.getLogger(__name__)

VISIBLE, HIDDEN = "visible", "hidden"
PHASES = (VISIBLE, HIDDEN)
"""The phases in the order they run; each gets a child of its own."""
OpenSession = Callable[[str], AbstractContextManager[Session]]
"""``sessions(phase)``: a context manager giving a fresh child (and scratch) for that phase."""
NOT_SHOWN = "the details are not shown for hidden checks"

_DEFAULT_LIMITS = Limits()
_LISTED = 3
"""Failing comparisons a failed check names besides the first; the rest are counted."""
_RECORD_SECONDS = 5.0
"""Time given to the child to say which functions ran (a lookup; no student code runs)."""
_where = where  # the check stage's name for it


@dataclass(frozen=True)
class _Block:
    """Why later checks cannot use a student module: in full, and as a hidden check says it."""

    message: str
    raised: Raised | None = None
    redacted: str | None = None
    problem: ModuleProblem | None = None


class _Blocked(ModuleBlocked):
    def __init__(self, block: _Block) -> None:
        super().__init__(block.message)
        self.block = block


@dataclass
class _Run:
    """What the checks of one submission share across both phases."""

    spec: Spec
    oracle: Oracle
    limits: Limits
    end: float
    given: Collection[str] = ()
    phase: str = VISIBLE
    blocks: dict[str, _Block] = field(default_factory=dict)


def phases(checks: Sequence[Check]) -> tuple[tuple[str, tuple[Check, ...]], ...]:
    """``(phase, its checks in spec order)`` for each phase that has checks, in running order."""
    split = (
        (VISIBLE, tuple(c for c in checks if c.visibility == "visible")),
        (HIDDEN, tuple(c for c in checks if c.visibility != "visible")),
    )
    return tuple((name, members) for name, members in split if members)


def run_checks(
    spec: Spec,
    sessions: OpenSession,
    oracle: Oracle,
    *,
    missing: Sequence[str] = (),
    given: Collection[str] = (),
    limits: Limits = _DEFAULT_LIMITS,
) -> tuple[Outcome, ...]:
    """Run every active check of ``spec``, visible ones first; one ``Outcome`` per check, in spec
    order.

    ``sessions(phase)`` is entered once per phase that has checks (see the module docstring).
    ``limits.check_seconds`` bounds each check, ``limits.submission_seconds`` all of them in both
    phases (checks that would start after it is spent are not run and say so),
    ``limits.output_bytes`` what is kept of each check's printed output. A module that could not
    be imported in the visible phase is not tried again in the hidden one. ``given``: course
    paths of the given files the grader wrote (``Staged.given``): a failure in one of them is
    the course file's, not the student's.
    """
    run = _Run(spec, oracle, limits, time.monotonic() + limits.submission_seconds, given)
    for module in missing:
        run.blocks[module] = _Block(
            f"{spec.student_modules[module]} was not found in the submission"
        )
    checks = spec.active_checks()
    done: dict[int, Outcome] = {}
    for phase, members in phases(checks):
        run.phase = phase
        with sessions(phase) as session:
            for check in members:
                done[id(check)] = _run_one(check, run, session)
    return tuple(done[id(c)] for c in checks)


def _run_one(check: Check, run: _Run, session: Session) -> Outcome:
    left = run.end - time.monotonic()
    if left <= 0:
        run.blocks = {
            m: _Block(
                f"not run: the submission's time limit ({run.limits.submission_seconds:g} s) "
                "was used up"
            )
            for m in run.spec.student_modules
        }
    timeout = max(min(run.limits.check_seconds, left), 0.001)
    spec = run.spec
    start = time.monotonic()
    offset = session.output_size()
    ctx = Context(check, spec, session, run.oracle, timeout)
    status: Status = "passed"
    message = ""
    raised: Raised | None = None
    redacted: str | None = None
    problem: ModuleProblem | None = None
    # What ran: None when the child cannot say (it was stopped), () when nothing could run.
    exercised: tuple[str, ...] | None = None
    alive = True
    try:
        for module in spec.modules_needed(check):
            _import(module, run, session, ctx.deadline, timeout)
        session.request("reset", ctx.deadline, seed=check.seed)
        IMPLEMENTATIONS[check.kind][check.subject](ctx)
    except _Blocked as exc:
        status, message = "error", exc.block.message
        raised, redacted = exc.block.raised, exc.block.redacted
        problem, exercised, alive = exc.block.problem, (), False
    except ModuleBlocked as exc:
        status, message, exercised, alive = "error", str(exc), (), False
    except StudentMissing as exc:
        path = spec.student_modules.get(spec.module_of(check.subject), "?")
        name = spec.api.name(check.subject)
        # The child names what it could not find: a function the subject's check also calls
        # (batchnorm_forward for batchnorm_backward's) is named, not the subject.
        found = re.fullmatch(r"(\w+) has no attribute '(\w+)'", exc.detail)
        in_module = found is not None and found[1] in spec.student_modules
        if found and in_module:
            name, path = found[2], spec.student_modules[found[1]]
        looked = f"looked for {name!r} in {path}"
        status = "error"
        message = f"not defined: {looked}" if in_module else f"{exc.detail} ({looked})"
        redacted = f"not defined ({looked}; {NOT_SHOWN})"
    except StudentUngradable as exc:
        what = "the student's code returned something that cannot be graded"
        status, message = "error", f"{what}: {exc.detail}"
        redacted = f"{what} ({NOT_SHOWN})"
    except StudentRaised as exc:
        raised = Raised(type=exc.type, where=where(exc, session.config.workspace))
        status, message = "error", f"raised {exc}{raised.where}"
    except StudentTimeout:
        status, message, alive = (
            "timeout",
            f"did not finish within {timeout:g} s (the per-check time limit)",
            False,
        )
    except StudentCrashed as exc:
        status, message, alive = "error", str(exc), False
        if isinstance(exc, ProtocolBroken):
            redacted = f"{exc.summary} ({NOT_SHOWN})"
    except BadReturn as exc:
        status, message = "failed", str(exc)
    except NotInKit as exc:
        status, message = "error", str(exc)
    except Exception:  # a bug of ours must not cost the other checks or the batch
        log.exception("internal error in check %s", check.id)
        status, message = (
            "error",
            "internal grader error in this check (reported to the instructor log)",
        )
    comparisons = tuple(ctx.comparisons)
    if status == "passed":
        status, message = _judged(comparisons, _subject(check, spec))
    if alive and status != "passed":  # only a root cause the check ran can be named
        exercised = _exercised(session, spec)
    return Outcome(
        check_id=check.id,
        status=status,
        message=message,
        notes=tuple(ctx.notes),
        comparisons=comparisons,
        diagnosis=ctx.diagnosis,
        curves=dict(ctx.curves),
        output=session.output_since(offset, run.limits.output_bytes),
        seconds=time.monotonic() - start,
        credit=ctx.credit,
        raised=raised,
        redacted=redacted,
        blocked_by=problem,
        exercised=exercised,
    )


def _import(module: str, run: _Run, session: Session, deadline: float, timeout: float) -> None:
    """Import a student module in the child, or raise ``_Blocked`` (kept in ``run.blocks``)."""
    if module in run.blocks:
        raise _Blocked(run.blocks[module])
    path = run.spec.student_modules[module]
    stopped = f"importing {path} stopped the process: "
    try:
        session.request("import", deadline, module=module)
    except StudentRaised as exc:
        run.blocks[module] = _import_failed(path, exc, run, session.config.workspace)
    except StudentCrashed as exc:
        redacted = (
            f"{stopped}{exc.summary} ({NOT_SHOWN})" if isinstance(exc, ProtocolBroken) else None
        )
        run.blocks[module] = _Block(f"{stopped}{exc}", redacted=redacted)
    except StudentTimeout:
        # Importing again would hang again: every later check needing it fails at once.
        run.blocks[module] = _Block(f"importing {path} did not finish within {timeout:g} s")
    else:
        return
    raise _Blocked(run.blocks[module])


def _import_failed(path: str, exc: StudentRaised, run: _Run, workspace: Path) -> _Block:
    """The block of a module whose import raised ``exc``.

    Described once (a ``ModuleProblem``) when it may be: in the visible phase (no hidden input
    has entered the child yet), or when the host's own compiler confirms a syntax error. Then
    each check that needs the module just says it is blocked; otherwise each says the error.
    """
    problem = module_problem(
        path, exc, workspace, given=run.given, trusted_text=run.phase == VISIBLE
    )
    if problem is not None:
        if problem.file in run.spec.student_modules.values():  # another graded module's fault
            problem = replace(problem, module=problem.file)
        return _Block(blocked_message(problem), problem=problem)
    failed = f"importing {path} failed: "
    at = where(exc, workspace)
    raised = Raised(type=exc.type, where=at, context=failed)
    return _Block(f"{failed}{exc}{at}", raised=raised)


def _subject(check: Check, spec: Spec) -> str:
    """``affine_backward` in `cs231n/layers.py``: the student's function a check is about."""
    path = spec.student_modules.get(spec.module_of(check.subject))
    name = spec.api.name(check.subject)
    return f"`{name}` in `{path}`" if path else f"`{name}`"


def _judged(comparisons: Sequence[Comparison], subject: str) -> tuple[Status, str]:
    """Status and message of a check that ran to the end, from its comparisons: the student's
    function, the first failing comparison in full, and the names of the others."""
    failed = [c for c in comparisons if not c.passed]
    if failed:
        others = [c.name for c in failed[1 : 1 + _LISTED]]
        rest = len(failed) - 1 - len(others)
        also = f"; also failing: {', '.join(others)}" if others else ""
        also += f" and {rest} more" if rest else ""
        return "failed", f"{subject}: {failed[0].name}: {failed[0].message}{also}"
    if not comparisons:
        return "failed", f"{subject}: nothing was compared"
    if len(comparisons) == 1:
        return "passed", "the 1 comparison passed"
    return "passed", f"all {len(comparisons)} comparisons passed"


def _exercised(session: Session, spec: Spec) -> tuple[str, ...] | None:
    """The canonical subjects whose student code ran in this check, by the child's record.

    A class subject (the nets) counts as run: the record names functions, and a net check
    runs its net. None when the child does not say (or says something malformed).
    """
    try:
        names = session.request("reached", time.monotonic() + _RECORD_SECONDS)
    except StudentFailure:
        return None
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        return None
    ran = set(names)
    subjects = {c.subject for c in spec.checks}
    return tuple(
        sorted(s for s in subjects if spec.module_of(s) == "fc_net" or spec.api.name(s) in ran)
    )
