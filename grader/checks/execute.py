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
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

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
_FRAME = re.compile(r'\s*File "(?P<path>.+)", line (?P<line>\d{1,9})(?:, in .*)?')
_MAX_PATH = 4096


@dataclass(frozen=True)
class _Block:
    """Why later checks cannot use a student module: in full, and as a hidden check says it."""

    message: str
    raised: Raised | None = None
    redacted: str | None = None


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
    limits: Limits = _DEFAULT_LIMITS,
) -> tuple[Outcome, ...]:
    """Run every active check of ``spec``, visible ones first; one ``Outcome`` per check, in spec
    order.

    ``sessions(phase)`` is entered once per phase that has checks (see the module docstring).
    ``limits.check_seconds`` bounds each check, ``limits.submission_seconds`` all of them in both
    phases (checks that would start after it is spent are not run and say so),
    ``limits.output_bytes`` what is kept of each check's printed output. A module that could not
    be imported in the visible phase is not tried again in the hidden one.
    """
    run = _Run(spec, oracle, limits, time.monotonic() + limits.submission_seconds)
    for module in missing:
        run.blocks[module] = _Block(
            f"{spec.student_modules[module]} was not found in the submission"
        )
    checks = spec.active_checks()
    done: dict[int, Outcome] = {}
    for phase, members in phases(checks):
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
    try:
        for module in spec.modules_needed(check):
            _import(module, run, session, ctx.deadline, timeout)
        session.request("reset", ctx.deadline, seed=check.seed)
        IMPLEMENTATIONS[check.kind][check.subject](ctx)
    except _Blocked as exc:
        status, message = "error", exc.block.message
        raised, redacted = exc.block.raised, exc.block.redacted
    except ModuleBlocked as exc:
        status, message = "error", str(exc)
    except StudentMissing as exc:
        where = spec.student_modules.get(spec.module_of(check.subject), "?")
        looked = f"looked for {spec.api.name(check.subject)!r} in {where}"
        status, message = "error", f"{exc.detail} ({looked})"
        redacted = f"not defined ({looked}; {NOT_SHOWN})"
    except StudentUngradable as exc:
        what = "the student's code returned something that cannot be graded"
        status, message = "error", f"{what}: {exc.detail}"
        redacted = f"{what} ({NOT_SHOWN})"
    except StudentRaised as exc:
        raised = Raised(type=exc.type, where=_where(exc, session.config.workspace))
        status, message = "error", f"raised {exc}{raised.where}"
    except StudentTimeout:
        status, message = (
            "timeout",
            f"did not finish within {timeout:g} s (the per-check time limit)",
        )
    except StudentCrashed as exc:
        status, message = "error", str(exc)
        if isinstance(exc, ProtocolBroken):
            redacted = f"{exc.summary} ({NOT_SHOWN})"
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
        output=session.output_since(offset, run.limits.output_bytes),
        seconds=time.monotonic() - start,
        credit=ctx.credit,
        raised=raised,
        redacted=redacted,
    )


def _import(module: str, run: _Run, session: Session, deadline: float, timeout: float) -> None:
    """Import a student module in the child, or raise ``_Blocked`` (kept in ``run.blocks``)."""
    if module in run.blocks:
        raise _Blocked(run.blocks[module])
    path = run.spec.student_modules[module]
    failed = f"importing {path} failed: "
    stopped = f"importing {path} stopped the process: "
    try:
        session.request("import", deadline, module=module)
    except StudentRaised as exc:
        where = _where(exc, session.config.workspace)
        raised = Raised(type=exc.type, where=where, context=failed)
        run.blocks[module] = _Block(f"{failed}{exc}{where}", raised=raised)
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


def _judged(comparisons: Sequence[Comparison]) -> tuple[Status, str]:
    """Status and message of a check that ran to the end, from its comparisons."""
    failed = [c for c in comparisons if not c.passed]
    if failed:
        more = f" (+{len(failed) - 1} more failing comparisons)" if len(failed) > 1 else ""
        return "failed", f"{failed[0].name}: {failed[0].message}{more}"
    if not comparisons:
        return "failed", "nothing was compared"
    return "passed", f"all {len(comparisons)} comparisons passed"


def _where(exc: StudentRaised, workspace: Path) -> str:
    """`` (file.py, line N)``: the innermost frame of the traceback that names a real file of the
    staged workspace and a line that file has; ``""`` when no frame does.

    The traceback is the child's account (``compile(src, '<any text>', 'exec')`` names any file
    and line), so only a file the grading process finds in the workspace is ever named.
    """
    roots = {str(workspace).rstrip("/") + "/", str(workspace.resolve()).rstrip("/") + "/"}
    for line in reversed(exc.traceback.splitlines()):
        frame = _FRAME.fullmatch(line)
        if frame is None:
            continue
        path, number = frame["path"], int(frame["line"])
        if not _in_workspace(path, roots):
            continue
        lines = _line_count(Path(path))
        if lines is not None and 1 <= number <= lines:
            return f" ({Path(path).name}, line {number})"
    return ""


def _in_workspace(path: str, roots: set[str]) -> bool:
    """Whether ``path`` names something below a workspace root without leaving it."""
    return (
        len(path) <= _MAX_PATH
        and any(path.startswith(root) for root in roots)
        and ".." not in Path(path).parts
    )


def _line_count(path: Path) -> int | None:
    """Lines of the regular (non-link) file ``path``, or None when there is no such file."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
