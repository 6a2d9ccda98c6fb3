"""The grader's public API; the CLI only parses arguments and calls these.

Defaults live here once, in keyword-only signatures. A problem with one submission becomes a
message and a zero score in its result; only ``SpecError``/``GraderError`` abort a run.
Limits are given one way everywhere: a mapping of ``grader.sandbox.Limits`` field names to values
(in the field's units), over the spec's ``[limits]``, over the defaults.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from grader import intake, pipeline
from grader.report.render import render
from grader.results import SubmissionResult
from grader.sandbox import resolve_mode
from grader.spec import Spec
from grader.spec.registry import available_specs, get_spec

__all__ = ["available_specs", "check", "get_spec", "grade", "grade_submission"]


def grade_submission(
    submission: intake.Submission,
    *,
    spec: Spec | None = None,
    workdir: Path,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
    public_only: bool = False,
) -> SubmissionResult:
    """Grade one taken-in submission in ``workdir``; never raises for problems of the submission.

    Args:
        spec: the spec to grade against; None detects it among the bundled specs.
        sandbox: ``auto`` (bubblewrap, refusing to run without it), ``bwrap`` or ``process``.
        limits: limit overrides by ``Limits`` field name.
        public_only: the visible checks only.
    """
    return pipeline.grade_submission(
        submission,
        spec=spec,
        specs=available_specs().values(),
        workdir=workdir,
        isolation=resolve_mode(sandbox),
        limits=limits,
        public_only=public_only,
    )


def grade(
    paths: Sequence[Path],
    *,
    out: Path,
    assignment: str | None = None,
    jobs: int = 1,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
    on_result: Callable[[SubmissionResult, Path], None] | None = None,
) -> list[SubmissionResult]:
    """Grade every submission under ``paths`` into ``out/<name>/results.json``."""
    spec = get_spec(assignment) if assignment else None
    resolve_mode(sandbox)  # refuse early, before any work, when isolation is unavailable
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nngrader-") as tmp:
        packages = intake.bundled_package_names() | intake.package_names([spec] if spec else [])
        submissions = intake.collect(
            [Path(p) for p in paths], Path(tmp) / "intake", packages=packages
        )
        results: list[SubmissionResult] = []

        def done(result: SubmissionResult) -> None:
            path = render(result, out)
            results.append(result)
            if on_result:
                on_result(result, path)

        work = Path(tmp) / "work"
        jobs_args = [
            (s, spec, work / f"{i}", sandbox, dict(limits or {})) for i, s in enumerate(submissions)
        ]
        if jobs <= 1:
            for args in jobs_args:
                done(_grade_job(*args))
        else:
            # Processes, not threads: the reference consumes the global legacy np.random.
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                for result in pool.map(_grade_job, *zip(*jobs_args, strict=True)):
                    done(result)
    return results


def _grade_job(
    submission: intake.Submission,
    spec: Spec | None,
    workdir: Path,
    sandbox: str,
    limits: dict[str, float],
) -> SubmissionResult:
    try:
        return grade_submission(
            submission, spec=spec, workdir=workdir, sandbox=sandbox, limits=limits
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check(
    path: Path,
    *,
    assignment: str | None = None,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
) -> SubmissionResult:
    """Grade one submission on its public checks only (students, CI)."""
    spec = get_spec(assignment) if assignment else None
    with tempfile.TemporaryDirectory(prefix="nngrader-") as tmp:
        (submission,) = intake.collect([path], Path(tmp) / "intake", lms=False)
        return grade_submission(
            submission,
            spec=spec,
            workdir=Path(tmp) / "work",
            sandbox=sandbox,
            limits=limits,
            public_only=True,
        )
