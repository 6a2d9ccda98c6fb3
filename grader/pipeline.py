"""The grading pipeline: one submission through named stages, data flowing one way.

    intake -> detect -> stage -> run -> score -> assemble -> render

intake: ``grader.intake``; detect: ``grader.workspace.detect``; stage: ``grader.workspace.stage``;
run: ``grader.checks.execute``; score: ``grader.scoring``; render: ``grader.report.render``.

``grade_submission`` runs detect..assemble for one taken-in submission and returns its
``SubmissionResult``; only ``grader.report.render`` writes files. ``grader.api`` is the public,
keyword-only face that calls it (intake and rendering of a batch live there).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from grader import scoring
from grader.accuracy.check import NotebookModel
from grader.accuracy.stage import run_accuracy
from grader.checks.execute import VISIBLE, run_checks
from grader.checks.imports import describe
from grader.checks.oracle import Oracle
from grader.intake import Submission
from grader.kit.installed import default_oracle
from grader.notebooks.printed import printed_val_accuracy
from grader.notebooks.report import read_notebooks, refused_notebooks, with_notebooks
from grader.notebooks.run import ExecuteOptions, NotebooksRan, execute_all
from grader.results import CheckResult, ModuleProblem, Outcome, SubmissionResult
from grader.sandbox import Limits, Sandbox
from grader.sandbox.session import Session, SessionConfig, read_output
from grader.spec import Spec
from grader.workspace.detect import detect
from grader.workspace.stage import Staged, stage

__all__ = ["Detected", "Ran", "detect_course", "grade_submission", "run_staged"]

LOG_BYTES = 1024 * 1024
"""What the student's code printed, kept for the instructor's log (tail)."""


@dataclass(frozen=True)
class Detected:
    """The detect stage's answer: the spec to grade against, and why."""

    spec: Spec | None
    """The spec, or None when no spec fits (``evidence`` says why)."""
    evidence: str
    """``--assignment ID`` when it was given, else the detection evidence."""
    notes: tuple[str, ...] = ()
    """For the report (e.g. the offering was not decided by the starter's text)."""


@dataclass(frozen=True)
class Ran:
    """The run stage's answer: what happened in each check, and around them."""

    outcomes: tuple[Outcome, ...]
    """One per active check, in spec order."""
    notes: tuple[str, ...]
    """What the sandbox could not enforce on this machine, and the like."""
    log: str
    """Everything the student's code printed (truncated): for the instructor only."""


def detect_course(submission: Submission, spec: Spec | None, specs: Iterable[Spec]) -> Detected:
    """The spec given on the command line, else the one the files fit (never a guess)."""
    if spec is not None:
        return Detected(spec, f"--assignment {spec.id}")
    if submission.root is None:
        return Detected(None, "")
    found = detect(submission.root, specs)
    return Detected(found.spec, found.evidence, found.notes)


def run_staged(
    staged: Staged, spec: Spec, *, isolation: str, limits: Limits, oracle: Oracle
) -> Ran:
    """Run ``spec``'s checks on the staged submission in its sandbox.

    Each phase of the check stage (``grader.checks.execute``: visible checks, then hidden ones)
    gets a sandbox and a child of its own; the hidden phase also gets a fresh scratch folder, so
    nothing the student's code kept from a hidden check's inputs meets a visible check. Both
    phases print into the same capture file, which is the instructor's log.
    """
    config = SessionConfig(
        runtime=staged.runtime,
        workspace=staged.workspace,
        compat=spec.api.compat,
        modules={m: spec.dotted(m) for m in spec.student_modules},
        output_path=staged.output,
    )
    notes: list[str] = []

    @contextmanager
    def session_for(phase: str) -> Iterator[Session]:
        scratch = staged.scratch if phase == VISIBLE else _fresh_scratch(staged.scratch, phase)
        with Sandbox(
            mode=isolation,
            workspace=staged.workspace,
            scratch=scratch,
            ro_paths=[staged.runtime],
            limits=limits,
            packages=spec.runtime,
        ) as box:
            try:
                with Session(config, box) as session:
                    yield session
            finally:
                notes.extend(n for n in box.limit_notes if n not in notes)

    outcomes = run_checks(
        spec, session_for, oracle, missing=staged.missing, given=staged.given, limits=limits
    )
    return Ran(outcomes, tuple(notes), read_output(staged.output, 0, LOG_BYTES))


def _fresh_scratch(scratch: Path, phase: str) -> Path:
    """A new, empty scratch folder beside ``scratch`` for ``phase``."""
    return Path(tempfile.mkdtemp(prefix=f"{scratch.name}-{phase}-", dir=scratch.parent))


def grade_submission(
    submission: Submission,
    *,
    spec: Spec | None,
    specs: Iterable[Spec],
    workdir: Path,
    isolation: str,
    limits: Mapping[str, float] | None = None,
    public_only: bool = False,
    oracle: Oracle | None = None,
    data: Path | None = None,
    notebook: NotebookModel | None = None,
    execute: ExecuteOptions | None = None,
    isolation_note: str | None = None,
) -> SubmissionResult:
    """Grade one taken-in submission; never raises for problems of the submission itself.

    Args:
        spec: the spec to grade against; None detects it among ``specs``.
        isolation: the resolved sandbox mode (``bwrap`` or ``process``).
        isolation_note: in process mode, the note that replaces "isolation was OFF" (``--sandbox
            best`` fell back: ``grader.sandbox.fallback_note``).
        limits: limits by ``Limits`` field name, over the spec's ``[limits]``, over the defaults.
        public_only: grade the visible checks only (``nngrader check``).
        oracle: where expected values come from (the live reference by default).
        data: the CIFAR-10 folder the accuracy rules are measured on (None: not graded).
        notebook: the executed notebook's model and printed accuracy (``--execute``).
        execute: execute the spec's notebooks in the sandbox (``--execute``) with these budgets.
    """
    start = time.monotonic()
    if submission.error or submission.root is None:
        return failed(submission.name, spec, "", isolation, submission.error or "nothing to grade")
    detected = detect_course(submission, spec, specs)
    if detected.spec is None:
        refused = failed(submission.name, None, detected.evidence, isolation, detected.evidence)
        return with_notebooks(refused, refused_notebooks(submission.root, specs))
    spec = detected.spec
    if public_only:
        spec = spec.public()
    root = submission.root
    staged = stage(root, spec, workdir)
    notebooks = read_notebooks(
        root, spec.notebooks, missing=[staged.layout[m] for m in staged.missing]
    )
    withheld: tuple[str, ...] = ()
    if public_only and spec.instructor_points > 0:
        withheld = (f"{spec.instructor_points:g} more points are graded by your instructor",)
    submission = replace(submission, notes=(*detected.notes, *submission.notes, *withheld))
    layered, oracle = Limits.layered(spec.limits, limits or {}), oracle or default_oracle()
    ran = run_staged(staged, spec, isolation=isolation, limits=layered, oracle=oracle)
    executed = NotebooksRan()
    if execute is not None:
        executed = execute_all(
            root, spec, workdir / "notebooks", isolation=isolation, limits=layered,
            options=execute, data=data,
        )  # fmt: skip
        notebook = notebook or executed.model
    printed = printed_val_accuracy(notebooks.reports)
    if printed is not None and (notebook is None or notebook.printed_val is None):
        # What the notebook says it reached: shown beside the measured accuracy, never graded.
        notebook = replace(notebook or NotebookModel(), printed_val=printed)
    accuracy = run_accuracy(
        staged, spec, root, data_dir=data, isolation=isolation, limits=layered,
        oracle=oracle, public_only=public_only, notebook=notebook,
    )  # fmt: skip
    ran = replace(
        ran, outcomes=(*ran.outcomes, *accuracy.outcomes), notes=(*ran.notes, *accuracy.notes)
    )
    checks = scoring.score(ran.outcomes, (*spec.active_checks(), *accuracy.checks))
    result = assemble(
        submission,
        spec,
        detected.evidence,
        staged,
        ran,
        checks,
        isolation,
        seconds=time.monotonic() - start,
        isolation_note=isolation_note,
    )
    if accuracy.extra is not None:
        result.extra["accuracy"] = accuracy.extra
    if execute is not None:
        result.extra["executed"] = executed.extra
        result = replace(result, files=executed.files, notes=(*result.notes, *executed.notes))
    return with_notebooks(result, notebooks)


def assemble(
    submission: Submission,
    spec: Spec,
    detection: str,
    staged: Staged,
    ran: Ran,
    checks: tuple[CheckResult, ...],
    isolation: str,
    *,
    seconds: float,
    isolation_note: str | None = None,
) -> SubmissionResult:
    """The submission's result from the stages' data (``isolation_note``: see
    ``grade_submission``)."""
    problems = module_problems(checks)
    # Empty stand-ins the submission lacked (CNN helpers nobody calls) are recorded in extra; a
    # substituted layer_utils changes what the student's net runs, and a given file of the
    # submission's that was not used may surprise its author, so the report says so.
    notes = (
        *(describe(p) for p in problems),
        *(
            f"{rel} was not in the submission; the starter's {kind} stand-in was used"
            for rel, kind in staged.stand_ins.items()
            if kind != "empty" and rel not in staged.given
        ),
        *(
            [
                "course files that are given are not graded; the grader used its own copies of "
                + ", ".join(staged.replaced)
            ]
            if staged.replaced
            else []
        ),
        *submission.notes,
        *ran.notes,
    )
    if isolation != "bwrap":
        notes = (
            isolation_note
            or "isolation was OFF (--sandbox process): student code ran without namespaces",
            *notes,
        )
    root = submission.root or Path()
    extra: dict[str, Any] = {
        "files": {k: str(v.relative_to(root)) for k, v in staged.found.items()},
        "missing": list(staged.not_found),
        "stand_ins": dict(staged.stand_ins),
    }
    if staged.replaced:
        extra["replaced"] = list(staged.replaced)
    if problems:  # said once here; every check they block points to them
        extra["module_problems"] = [asdict(p) for p in problems]
    if staged.alternatives:  # the instructor can see which same-named files were passed over
        extra["alternatives"] = {
            k: [str(p.relative_to(root)) for p in v] for k, v in staged.alternatives.items()
        }
    return SubmissionResult(
        name=submission.name,
        assignment=spec.id,
        detection=detection,
        checks=checks,
        isolation=isolation,
        notes=notes,
        seconds=seconds,
        log=ran.log,
        extra=extra,
    )


def module_problems(checks: Iterable[Outcome]) -> tuple[ModuleProblem, ...]:
    """Each module problem that blocked a check, once per module, in the order met."""
    seen: dict[str, ModuleProblem] = {}
    for check in checks:
        if check.blocked_by is not None:
            seen.setdefault(check.blocked_by.module, check.blocked_by)
    return tuple(seen.values())


def failed(
    name: str, spec: Spec | None, detection: str, isolation: str, error: str
) -> SubmissionResult:
    """The result of a submission that could not be graded: every check errs with ``error``."""
    checks: tuple[CheckResult, ...] = ()
    if spec is not None:
        checks = tuple(
            CheckResult(
                check_id=c.id,
                part=c.part,
                title=c.title,
                status="error",
                score=0.0,
                max_score=c.points,
                visibility=c.visibility,  # type: ignore[arg-type]
                message=error,
            )
            for c in spec.active_checks()
        )
    return SubmissionResult(
        name=name,
        assignment=spec.id if spec else "",
        detection=detection,
        checks=checks,
        isolation=isolation,
        error=error,
        extra={"error": error},
    )
