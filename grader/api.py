"""The grader's public API; the CLI only parses arguments and calls these.

Defaults live here once, in keyword-only signatures. A problem with one submission becomes a
message and a zero score in its result; only ``SpecError``/``GraderError`` abort a run.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from grader import detect, discover, intake
from grader.engine import run_checks
from grader.errors import GraderError
from grader.report.gradescope import write_results_json
from grader.results import CheckResult, SubmissionResult
from grader.runner import Session, SessionConfig, stage_runtime
from grader.sandbox import Limits, Sandbox, resolve_mode
from grader.spec import Spec, load_spec

from assignments import spec_dir

LOG_BYTES = 1024 * 1024


def available_specs() -> dict[str, Spec]:
    """Every bundled course spec, by id."""
    specs = {}
    for path in sorted(spec_dir().glob("*.toml")):
        spec = load_spec(path)
        specs[spec.id] = spec
    return specs


def get_spec(assignment: str) -> Spec:
    """A bundled spec by id (optionally ``id@offering``), or a spec file path."""
    if assignment.endswith(".toml") or os.sep in assignment:
        return load_spec(assignment)
    name, _, offering = assignment.partition("@")
    specs = available_specs()
    if name not in specs:
        raise GraderError(f"unknown assignment {name!r}; available: {', '.join(sorted(specs))}")
    return specs[name].for_offering(offering or None)


def grade_submission(submission: intake.Submission, *, spec: Spec | None = None, workdir: Path,
                     sandbox: str = "auto", limits: Limits | None = None, overrides: Mapping[str, float] | None = None,
                     public_only: bool = False) -> SubmissionResult:
    """Grade one taken-in submission; never raises for problems of the submission itself.

    ``limits``: explicit limits; when None, the defaults, then the spec's ``[limits]``, then
    ``overrides`` (the command line's).
    """
    start = time.monotonic()
    isolation = resolve_mode(sandbox)
    if submission.error or submission.root is None:
        return _failed(submission.name, spec, "", isolation, submission.error or "nothing to grade")
    detection = f"--assignment {spec.id}" if spec else ""
    if spec is None:
        found = detect.detect(submission.root, available_specs().values())
        if found.spec is None:
            return _failed(submission.name, None, found.evidence, isolation, found.evidence)
        spec, detection = found.spec, found.evidence
    if public_only:
        spec = replace(spec, checks=tuple(c for c in spec.checks if c.visibility == "visible"))
    limits = limits or spec_limits(spec, **(overrides or {}))
    found_files = discover.find_files(submission.root, spec.student_modules)
    workdir.mkdir(parents=True, exist_ok=True)
    workspace = discover.stage_layout(found_files, spec.student_modules, workdir / "src")
    _overlay_given(spec, workspace)
    stood_in = _add_stand_ins(spec, workspace)
    runtime = stage_runtime(workdir / "runtime")
    scratch = workdir / "scratch"
    scratch.mkdir()
    with Sandbox(mode=isolation, workspace=workspace, scratch=scratch, ro_paths=[runtime], limits=limits) as box:
        config = SessionConfig(runtime=runtime, workspace=workspace, compat=spec.api.compat,
                               modules={m: spec.dotted(m) for m in spec.student_modules},
                               output_path=workdir / "output.txt")
        with Session(config, box) as session:
            stood_in_paths = {rel for rel, _ in stood_in}
            missing = [m for m in found_files.missing if spec.student_modules[m] not in stood_in_paths]
            checks = run_checks(spec, session, missing=missing, timeout=limits.check_seconds,
                                output_bytes=limits.output_bytes, budget=limits.submission_seconds)
        notes = (*submission.notes, *box.limit_notes)
        log = session.output_since(0, LOG_BYTES)
    # Empty stand-ins (CNN helpers nobody calls) are recorded in extra; a substituted
    # layer_utils changes what the student's net runs, so the report says so.
    notes = (*(f"{rel} was not in the submission; the starter's {kind} stand-in was used"
               for rel, kind in stood_in if kind != "empty"), *notes)
    if isolation != "bwrap":
        notes = ("isolation was OFF (--sandbox process): student code ran without namespaces", *notes)
    return SubmissionResult(
        name=submission.name, assignment=spec.id, detection=detection, checks=checks, isolation=isolation,
        notes=notes, seconds=time.monotonic() - start,
        extra={"files": {k: str(v.relative_to(submission.root)) for k, v in found_files.found.items()},
               "missing": list(found_files.missing), "stand_ins": dict(stood_in)},
        log=log,
    )


def spec_limits(spec: Spec, **overrides: float) -> Limits:
    """The spec's limits over the defaults, then ``overrides`` (e.g. from the command line)."""
    fields = Limits.__dataclass_fields__
    values = {k: (int(v) if fields[k].type in ("int", int) else v) for k, v in {**spec.limits, **overrides}.items()}
    return Limits(**values)


def _overlay_given(spec: Spec, workspace: Path) -> None:
    """Replace the course's given modules with our trusted copies (edits cannot change grades)."""
    from grader.runner import GIVEN_SOURCES, REFERENCE_DIR

    for rel, module in spec.given_modules.items():
        dest = workspace / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REFERENCE_DIR / GIVEN_SOURCES[module], dest)


STAND_IN_DIR = Path(__file__).with_name("stand_ins")


def _add_stand_ins(spec: Spec, workspace: Path) -> list[tuple[str, str]]:
    """Write the spec's stand-ins for course files the submission lacks; returns (path, kind)."""
    added = []
    for rel, kind in spec.stand_ins.items():
        dest = workspace / rel
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        folder = dest.parent
        while folder != workspace and workspace in folder.parents:  # a package, as the starter's
            (folder / "__init__.py").touch(exist_ok=True)
            folder = folder.parent
        if kind == "empty":
            dest.write_text(f'"""Empty stand-in for {rel} (not graded here; imported by graded code)."""\n')
        else:
            shutil.copyfile(STAND_IN_DIR / f"{kind}.py", dest)
        added.append((rel, kind))
    return added


def _failed(name: str, spec: Spec | None, detection: str, isolation: str, error: str) -> SubmissionResult:
    checks: tuple[CheckResult, ...] = ()
    if spec is not None:
        checks = tuple(CheckResult(check_id=c.id, part=c.part, title=c.title, status="error", score=0.0,
                                   max_score=c.points, visibility=c.visibility,  # type: ignore[arg-type]
                                   message=error) for c in spec.active_checks())
    return SubmissionResult(name=name, assignment=spec.id if spec else "", detection=detection,
                            checks=checks, isolation=isolation, error=error)


def grade(paths: Sequence[Path], *, out: Path, assignment: str | None = None, jobs: int = 1,
          sandbox: str = "auto", limits: Limits | None = None, overrides: Mapping[str, float] | None = None,
          on_result: Callable[[SubmissionResult, Path], None] | None = None) -> list[SubmissionResult]:
    """Grade every submission under ``paths`` into ``out/<name>/results.json``."""
    spec = get_spec(assignment) if assignment else None
    resolve_mode(sandbox)  # refuse early, before any work, when isolation is unavailable
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nngrader-") as tmp:
        packages = intake.bundled_package_names() | intake.package_names([spec] if spec else [])
        submissions = intake.collect([Path(p) for p in paths], Path(tmp) / "intake", packages=packages)
        results: list[SubmissionResult] = []

        def done(result: SubmissionResult) -> None:
            path = out / result.name / "results.json"
            write_results_json(result, path)
            # For the instructor: what the code printed, hidden checks included.
            (out / result.name / "output.txt").write_text(result.log, encoding="utf-8")
            results.append(result)
            if on_result:
                on_result(result, path)

        work = Path(tmp) / "work"
        jobs_args = [(s, spec, work / f"{i}", sandbox, limits, dict(overrides or {})) for i, s in enumerate(submissions)]
        if jobs <= 1:
            for args in jobs_args:
                done(_grade_job(*args))
        else:
            # Processes, not threads: the reference consumes the global legacy np.random.
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                for result in pool.map(_grade_job, *zip(*jobs_args)):
                    done(result)
    return results


def _grade_job(submission: intake.Submission, spec: Spec | None, workdir: Path, sandbox: str,
               limits: Limits | None, overrides: dict[str, float]) -> SubmissionResult:
    try:
        return grade_submission(submission, spec=spec, workdir=workdir, sandbox=sandbox, limits=limits,
                                overrides=overrides)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check(path: Path, *, assignment: str | None = None, sandbox: str = "auto",
          limits: Limits | None = None, overrides: Mapping[str, float] | None = None) -> SubmissionResult:
    """Grade one submission on its public checks only (students, CI)."""
    spec = get_spec(assignment) if assignment else None
    with tempfile.TemporaryDirectory(prefix="nngrader-") as tmp:
        (submission,) = intake.collect([path], Path(tmp) / "intake", lms=False)
        return grade_submission(submission, spec=spec, workdir=Path(tmp) / "work", sandbox=sandbox,
                                limits=limits, overrides=overrides, public_only=True)
