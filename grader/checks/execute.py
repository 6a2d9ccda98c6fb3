"""Runs a spec's checks against one submission's child and reports what happened.

Each check gets a fresh, seeded state in the child; whatever the student's code does (raise, hang,
die, return garbage) fails that check only. The result of each check is an ``Outcome``: what
happened, no points (``grader.scoring`` decides those).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from grader.checks.context import Context
from grader.checks.oracle import Oracle
from grader.checks.registry import IMPLEMENTATIONS
from grader.errors import (
    BadReturn,
    ModuleBlocked,
    StudentCrashed,
    StudentMissing,
    StudentRaised,
    StudentTimeout,
    StudentUngradable,
)
from grader.results import Comparison, Outcome, Raised, Status
from grader.sandbox.limits import Limits
from grader.sandbox.session import Session
from grader.spec import Check, Spec

__all__ = ["run_checks"]

log = logging.getLogger(__name__)


_DEFAULT_LIMITS = Limits()


def run_checks(
    spec: Spec,
    session: Session,
    oracle: Oracle,
    *,
    missing: Sequence[str] = (),
    limits: Limits = _DEFAULT_LIMITS,
) -> tuple[Outcome, ...]:
    """Run every active check of ``spec`` in order; one ``Outcome`` per check.

    ``limits.check_seconds`` bounds each check, ``limits.submission_seconds`` all of them (checks
    that would start after it is spent are not run and say so), ``limits.output_bytes`` what is
    kept of each check's printed output.
    """
    broken: dict[str, str] = {
        m: f"{spec.student_modules[m]} was not found in the submission" for m in missing
    }
    end = time.monotonic() + limits.submission_seconds
    outcomes = []
    for check in spec.active_checks():
        left = end - time.monotonic()
        if left <= 0:
            broken = {
                m: f"not run: the submission's time limit ({limits.submission_seconds:g} s) "
                "was used up"
                for m in spec.student_modules
            }
        timeout = max(min(limits.check_seconds, left), 0.001)
        outcomes.append(
            _run_one(check, spec, session, oracle, broken, timeout, limits.output_bytes)
        )
    return tuple(outcomes)


def _run_one(
    check: Check,
    spec: Spec,
    session: Session,
    oracle: Oracle,
    broken: dict[str, str],
    timeout: float,
    output_bytes: int,
) -> Outcome:
    start = time.monotonic()
    offset = session.output_size()
    ctx = Context(check, spec, session, oracle, timeout)
    status: Status = "passed"
    message = ""
    raised: Raised | None = None
    try:
        for module in spec.modules_needed(check):
            _import(module, spec, session, ctx.deadline, broken, timeout)
        session.request("reset", ctx.deadline, seed=check.seed)
        IMPLEMENTATIONS[check.kind][check.subject](ctx)
    except ModuleBlocked as exc:
        status, message = "error", str(exc)
    except StudentMissing as exc:
        where = spec.student_modules.get(spec.module_of(check.subject), "?")
        status, message = (
            "error",
            f"{exc.detail} (looked for {spec.api.name(check.subject)!r} in {where})",
        )
    except StudentUngradable as exc:
        status, message = (
            "error",
            f"the student's code returned something that cannot be graded: {exc.detail}",
        )
    except StudentRaised as exc:
        raised = Raised(type=exc.type, where=_where(exc))
        status, message = "error", f"raised {exc}{raised.where}"
    except StudentTimeout:
        status, message = (
            "timeout",
            f"did not finish within {timeout:g} s (the per-check time limit)",
        )
    except StudentCrashed as exc:
        status, message = "error", str(exc)
    except BadReturn as exc:
        status, message = "failed", str(exc)
    except Exception:  # a bug of ours must not cost the other checks or the batch
        log.exception("internal error in check %s", check.id)
        status, message = (
            "error",
            "internal grader error in this check (reported to the instructor log)",
        )
    comparisons = tuple(ctx.comparisons)
    if status == "passed":
        status, message = _judged(comparisons)
    return Outcome(
        check_id=check.id,
        status=status,
        message=message,
        notes=tuple(ctx.notes),
        comparisons=comparisons,
        diagnosis=ctx.diagnosis,
        output=session.output_since(offset, output_bytes),
        seconds=time.monotonic() - start,
        credit=ctx.credit,
        raised=raised,
    )


def _import(
    module: str,
    spec: Spec,
    session: Session,
    deadline: float,
    broken: dict[str, str],
    timeout: float,
) -> None:
    """Import a student module in the child, or raise ``ModuleBlocked`` (kept in ``broken``)."""
    if module in broken:
        raise ModuleBlocked(broken[module])
    path = spec.student_modules[module]
    try:
        session.request("import", deadline, module=module)
    except StudentRaised as exc:
        broken[module] = f"importing {path} failed: {exc}{_where(exc)}"
    except StudentCrashed as exc:
        broken[module] = f"importing {path} stopped the process: {exc}"
    except StudentTimeout:
        # Importing again would hang again: every later check needing it fails at once.
        broken[module] = f"importing {path} did not finish within {timeout:g} s"
    else:
        return
    raise ModuleBlocked(broken[module])


def _judged(comparisons: Sequence[Comparison]) -> tuple[Status, str]:
    """Status and message of a check that ran to the end, from its comparisons."""
    failed = [c for c in comparisons if not c.passed]
    if failed:
        more = f" (+{len(failed) - 1} more failing comparisons)" if len(failed) > 1 else ""
        return "failed", f"{failed[0].name}: {failed[0].message}{more}"
    if not comparisons:
        return "failed", "nothing was compared"
    return "passed", f"all {len(comparisons)} comparisons passed"


def _where(exc: StudentRaised) -> str:
    """' (file.py, line N)' of the innermost frame of the student's traceback, if any."""
    lines = [ln.strip() for ln in exc.traceback.splitlines() if ln.strip().startswith('File "')]
    student = [ln for ln in lines if "nngrader_child" not in ln and "nngrader_given" not in ln]
    if not student:
        return ""
    parts = student[-1].split('"')
    path = parts[1].rsplit("/", 1)[-1] if len(parts) > 1 else "?"
    rest = parts[2].strip(", ").split(",")[0] if len(parts) > 2 else ""
    return f" ({path}, {rest})"
