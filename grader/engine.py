"""Runs a spec's checks against one staged submission and scores them.

Each check gets a fresh, seeded state in the child; whatever the student's code does (raise, hang,
die, return garbage) fails that check only. Scoring is pure (``score_checks``): gradient checks
that award ``with_value`` earn points only when their value check passed, and a failed check
whose dependency also failed names that dependency as the likely root cause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from grader.context import BadReturn, Context
from grader.results import CheckResult, Comparison
from grader.runner import Session, StudentCrashed, StudentRaised, StudentTimeout
from grader.spec import Check, Spec
from grader.subjects import SUBJECTS

log = logging.getLogger(__name__)

MODEL_KINDS = ("model_init", "model_loss", "solver")


def modules_needed(spec: Spec, check: Check) -> list[str]:
    """Logical student modules a check imports (in import order)."""
    needed = [spec.module_of(check.subject)]
    if check.kind == "solver":
        needed.append("optim")
    return [m for m in needed if m in spec.student_modules]


def run_checks(spec: Spec, session: Session, *, missing: Sequence[str] = (), timeout: float = 60.0,
               output_bytes: int = 64 * 1024, budget: float = float("inf")) -> tuple[CheckResult, ...]:
    """Run every active check of ``spec`` in order and return the scored results.

    Args:
        timeout: wall-time limit of one check, in seconds.
        budget: wall-time limit of the whole submission; checks that would start after it is
            spent are not run and say so.
    """
    broken: dict[str, str] = {m: f"{spec.student_modules[m]} was not found in the submission" for m in missing}
    end = time.monotonic() + budget
    raw = []
    for check in spec.active_checks():
        left = end - time.monotonic()
        if left <= 0:
            broken = {m: f"not run: the submission's time limit ({budget:g} s) was used up" for m in spec.student_modules}
        raw.append(_run_one(check, spec, session, broken, max(min(timeout, left), 0.001), output_bytes))
    return score_checks(raw, spec.active_checks())


def _run_one(check: Check, spec: Spec, session: Session, broken: dict[str, str], timeout: float,
             output_bytes: int) -> CheckResult:
    start = time.monotonic()
    offset = session.output_size()
    ctx = Context(check, spec, session, timeout)
    status, message = "passed", ""
    try:
        for module in modules_needed(spec, check):
            if module in broken:
                raise _Blocked(broken[module])
            try:
                session.request("import", ctx.deadline, module=module)
            except StudentRaised as exc:
                broken[module] = f"importing {spec.student_modules[module]} failed: {exc}{_where(exc)}"
                raise _Blocked(broken[module]) from None
            except StudentCrashed as exc:
                broken[module] = f"importing {spec.student_modules[module]} stopped the process: {exc}"
                raise _Blocked(broken[module]) from None
            except StudentTimeout:
                # Importing again would hang again: every later check needing it fails at once.
                broken[module] = f"importing {spec.student_modules[module]} did not finish within {timeout:g} s"
                raise _Blocked(broken[module]) from None
        session.request("reset", ctx.deadline, seed=check.seed)
        SUBJECTS[check.kind][check.subject](ctx)
    except _Blocked as exc:
        status, message = "error", str(exc)
    except StudentRaised as exc:
        status, message = "error", _raised_message(check, spec, exc)
    except StudentTimeout:
        status, message = "timeout", f"did not finish within {timeout:g} s (the per-check time limit)"
    except StudentCrashed as exc:
        status, message = "error", str(exc)
    except BadReturn as exc:
        status, message = "failed", str(exc)
    except Exception:  # a bug of ours must not cost the other checks or the batch
        log.exception("internal error in check %s", check.id)
        status, message = "error", "internal grader error in this check (reported to the instructor log)"
    comparisons = tuple(ctx.comparisons)
    if status == "passed":
        failed = [c for c in comparisons if not c.passed]
        if failed:
            status, message = "failed", _failure_message(failed)
        elif not comparisons:
            status, message = "failed", "nothing was compared"
        else:
            message = f"all {len(comparisons)} comparisons passed"
    if ctx.notes:
        message += " (" + "; ".join(ctx.notes) + ")"
    return CheckResult(
        check_id=check.id, part=check.part, title=check.title, status=status,  # type: ignore[arg-type]
        score=check.points if status == "passed" else 0.0, max_score=check.points,
        visibility=check.visibility,  # type: ignore[arg-type]
        message=message, comparisons=comparisons, diagnosis=ctx.diagnosis,
        output=session.output_since(offset, output_bytes), seconds=time.monotonic() - start,
    )


class _Blocked(Exception):
    """A module this check needs could not be imported (or is missing)."""


def _failure_message(failed: Sequence[Comparison]) -> str:
    more = f" (+{len(failed) - 1} more failing comparisons)" if len(failed) > 1 else ""
    return f"{failed[0].name}: {failed[0].message}{more}"


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


def _raised_message(check: Check, spec: Spec, exc: StudentRaised) -> str:
    if exc.type == "StudentError":
        return f"{exc.detail} (looked for {spec.api.name(check.subject)!r} in {spec.student_modules.get(spec.module_of(check.subject), '?')})"
    if exc.type == "ProtocolError":
        return f"the student's code returned something that cannot be graded: {exc.detail}"
    if check.visibility != "visible":
        # The exception text is the student's code talking, and a hidden check's inputs are in
        # its reach (``raise ValueError(repr(x))``): only the type and the place are reported.
        return f"raised {exc.type}{_where(exc)} (the message is not shown for hidden checks)"
    return f"raised {exc}{_where(exc)}"


def score_checks(results: Sequence[CheckResult], checks: Sequence[Check]) -> tuple[CheckResult, ...]:
    """Apply award rules and root causes (pure; results and checks in the same order)."""
    by_id: Mapping[str, CheckResult] = {r.check_id: r for r in results}
    by_checks: Mapping[str, Check] = {c.id: c for c in checks}
    out = []
    for result, check in zip(results, checks):
        if check.award == "informative":
            result = replace(result, score=0.0, max_score=0.0, counts=False)
        elif check.award == "with_value" and result.status == "passed":
            value = by_id.get(check.value_check or "")
            if value is None or value.status != "passed":
                result = replace(result, score=0.0, message=result.message +
                                 f"; no points: backward and forward agree, but the value check "
                                 f"{check.value_check!r} failed, so they are consistently wrong")
        if result.status != "passed":
            cause = root_cause(check.id, by_checks, by_id)
            if cause:
                result = replace(result, root_cause=cause)
        out.append(result)
    return tuple(out)


def root_cause(check_id: str, checks: Mapping[str, Check], results: Mapping[str, CheckResult]) -> str | None:
    """The deepest failed dependency of a check, following ``depends`` transitively.

    Only dependencies that carry points can be a root cause: an optional check that was skipped
    or failed (e.g. extra-credit ``batchnorm_backward_alt``) explains nothing. Pure.
    """
    def failed(dep: str) -> bool:
        return (dep in results and dep in checks and results[dep].status != "passed"
                and checks[dep].points > 0 and checks[dep].award != "informative")

    cause, seen = None, {check_id}
    current = check_id
    while True:
        nxt = next((d for d in checks[current].depends if d not in seen and failed(d)), None)
        if nxt is None:
            return cause
        cause, current = nxt, nxt
        seen.add(nxt)
