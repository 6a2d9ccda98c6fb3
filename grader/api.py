"""The grader's public API; the CLI only parses arguments and calls these.

Defaults live here once, in keyword-only signatures. A problem with one submission becomes a
message and a zero score in its result, and one whose files cannot be written comes back with
``unwritten`` set; only ``SpecError``/``GraderError`` abort a run.
Limits are given one way everywhere: a mapping of ``grader.sandbox.Limits`` field names to values
(in the field's units), over the spec's ``[limits]``, over the defaults.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from grader import intake, pipeline
from grader.accuracy import data as accuracy_data
from grader.accuracy.single import Evaluation, evaluate_file
from grader.errors import GraderError
from grader.notebooks.run import ExecuteOptions
from grader.report import names
from grader.report.render import render
from grader.results import SubmissionResult
from grader.sandbox import resolve_mode
from grader.spec import Spec
from grader.spec.registry import available_specs, get_spec

__all__ = ["available_specs", "check", "evaluate", "get_spec", "grade", "grade_submission"]


def grade_submission(
    submission: intake.Submission,
    *,
    spec: Spec | None = None,
    workdir: Path,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
    public_only: bool = False,
    data: Path | None = None,
    execute: ExecuteOptions | None = None,
) -> SubmissionResult:
    """Grade one taken-in submission in ``workdir``; never raises for problems of the submission.

    Args:
        spec: the spec to grade against; None detects it among the bundled specs.
        sandbox: ``auto`` (bubblewrap, refusing to run without it), ``bwrap`` or ``process``.
        limits: limit overrides by ``Limits`` field name.
        public_only: the visible checks only.
        data: the CIFAR-10 folder for the accuracy rules (default ``$NNGRADER_DATA``; neither:
            the rules are not graded, and the result's notes say so).
        execute: execute the spec's notebooks in the sandbox with these budgets (``--execute``).
    """
    return pipeline.grade_submission(
        submission,
        spec=spec,
        specs=available_specs().values(),
        workdir=workdir,
        isolation=resolve_mode(sandbox),
        limits=limits,
        public_only=public_only,
        data=cifar_folder(data),
        execute=execute,
    )


def cifar_folder(data: Path | None) -> Path | None:
    """The CIFAR-10 folder to grade accuracy on (``data``, else ``$NNGRADER_DATA``), read once
    here so that a wrong folder stops the run before anything is graded.

    Raises:
        GraderError: the folder's batches cannot be read.
    """
    folder = accuracy_data.resolve(data)
    if folder is None:
        return None
    try:
        accuracy_data.load(folder)
    except (accuracy_data.DataError, OSError) as exc:
        raise GraderError(f"--data {folder}: {exc}") from exc
    return folder


def grade(
    paths: Sequence[Path],
    *,
    out: Path,
    assignment: str | None = None,
    jobs: int = 1,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
    on_result: Callable[[SubmissionResult, Path], None] | None = None,
    data: Path | None = None,
    execute: ExecuteOptions | None = None,
) -> list[SubmissionResult]:
    """Grade every submission under ``paths`` into ``out/<folder>/results.json``.

    Each result's ``folder`` is its name when that is a safe folder name, else a safe slug of it
    (``grader.report.names``). A result whose files cannot be written comes back with
    ``unwritten`` saying why, and the batch goes on.

    Raises:
        GraderError: ``out`` cannot be created (before anything is graded).
    """
    spec = get_spec(assignment) if assignment else None
    specs = tuple(available_specs().values())  # parsed once, not once per submission
    isolation = resolve_mode(sandbox)  # refuse early, before any work, when unavailable
    cifar = cifar_folder(data)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GraderError(f"cannot create the output folder {out}: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="nngrader-") as tmp:
        packages = intake.bundled_package_names() | intake.package_names([spec] if spec else [])
        submissions = intake.collect(
            [Path(p) for p in paths], Path(tmp) / "intake", packages=packages
        )
        folders = names.folders([s.name for s in submissions])
        results: list[SubmissionResult] = []

        def done(result: SubmissionResult, folder: str) -> None:
            result = _written(replace(result, folder=folder), out)
            results.append(result)
            if on_result:
                on_result(result, out / folder / "results.json")

        work = Path(tmp) / "work"
        work.mkdir(mode=0o700)  # sandbox uids may search it (to their own folder), never list it
        jobs_args = [
            (s, spec, specs, work / f"{i}", isolation, dict(limits or {}), cifar, execute)
            for i, s in enumerate(submissions)
        ]
        if jobs <= 1:
            for args, folder in zip(jobs_args, folders, strict=True):
                done(_grade_job(*args), folder)
        else:
            # Processes, not threads: the reference consumes the global legacy np.random.
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                graded = pool.map(_grade_job, *zip(*jobs_args, strict=True))
                for result, folder in zip(graded, folders, strict=True):
                    done(result, folder)
    return results


def _written(result: SubmissionResult, out: Path) -> SubmissionResult:
    """``result`` once rendered under ``out``, or with ``unwritten`` saying why it is not.

    One submission's files failing to be written (a full disk, a folder that cannot be made,
    text that cannot be encoded) is that submission's problem: the batch goes on, and the
    results written before stay.
    """
    try:
        render(result, out)
    except (OSError, ValueError) as exc:
        return replace(result, unwritten=f"{type(exc).__name__}: {exc}")
    return result


def _grade_job(
    submission: intake.Submission,
    spec: Spec | None,
    specs: Sequence[Spec],
    workdir: Path,
    isolation: str,
    limits: dict[str, float],
    data: Path | None = None,
    execute: ExecuteOptions | None = None,
) -> SubmissionResult:
    try:
        return pipeline.grade_submission(
            submission,
            spec=spec,
            specs=specs,
            workdir=workdir,
            isolation=isolation,
            limits=limits,
            data=data,
            execute=execute,
        )
    except GraderError:
        raise  # the run's setup is wrong (a spec, the sandbox): the next submission fares no better
    except Exception as exc:
        # A grader bug met on one submission must not cost the rest of the batch its results:
        # this one is reported as ungraded, with the traceback on stderr for the instructor.
        traceback.print_exc()
        return pipeline.failed(
            submission.name,
            spec,
            "",
            isolation,
            f"the grader failed on this submission ({type(exc).__name__}); it was not graded. "
            "Please report this to the nngrader maintainers with the traceback printed on stderr",
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check(
    path: Path,
    *,
    assignment: str | None = None,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
    data: Path | None = None,
    execute: ExecuteOptions | None = None,
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
            data=data,
            execute=execute,
        )


def evaluate(model: Path, *, assignment: str, data: Path | None = None) -> Evaluation:
    """Measure one model file with ``assignment``'s first accuracy rule.

    Raises:
        GraderError: the spec has no ``[final_accuracy]``, or no CIFAR-10 data was given.
    """
    from grader.checks.oracle import LiveOracle

    spec = get_spec(assignment)
    folder = cifar_folder(data)
    if not spec.final_accuracy:
        raise GraderError(f"{spec.id} has no [final_accuracy] rule")
    if folder is None:
        raise GraderError(f"no CIFAR-10 data: give --data DIR or set {accuracy_data.DATA_ENV}")
    rule = spec.final_accuracy[0]
    return evaluate_file(model, rule, accuracy_data.load(folder), LiveOracle())
