"""The grader's public API; the CLI only parses arguments and calls these.

Defaults live here once, in keyword-only signatures. A problem with one submission becomes a
message and a zero score in its result, and one whose files cannot be written comes back with
``unwritten`` set; only ``SpecError``/``GraderError`` abort a run, and Ctrl-C stops one
(``GradingInterrupted``, after tearing down what runs; ``grader.fanout``). A batch's results
live in a store in its output folder (``grader.store``), so a killed batch resumes and a second
run grades only what changed (``grader.batch``); the jobs run here, in worker processes or on a
Dask cluster (``grader.executors``).
Limits are given one way everywhere: a mapping of ``grader.sandbox.Limits`` field names to values
(in the field's units), over the spec's ``[limits]``, over the defaults.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from grader import batch, fanout, intake, pipeline
from grader.accuracy import data as accuracy_data
from grader.accuracy.single import Evaluation, evaluate_file
from grader.errors import GraderError, SandboxUnavailable
from grader.executors import EXECUTORS
from grader.executors.job import Settings
from grader.notebooks.run import ExecuteOptions
from grader.report.render import write_whole
from grader.results import SubmissionResult
from grader.sandbox import fallback_note, resolve_mode
from grader.spec import Spec
from grader.spec.registry import available_specs, get_spec
from grader.store import Store

__all__ = [
    "GradingInterrupted",
    "available_specs",
    "check",
    "evaluate",
    "get_spec",
    "grade",
    "grade_submission",
    "write_reports",
]


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
        sandbox: ``auto`` (bubblewrap, refusing to run without it), ``bwrap``, ``process``, or
            ``best`` (bubblewrap where it works, else ``process`` and a note saying so).
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
        isolation_note=fallback_note(sandbox),
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


class GradingInterrupted(KeyboardInterrupt):
    """``grade`` was stopped by Ctrl-C: what finished is written, the rest is not. A
    ``KeyboardInterrupt``, so a caller who does not look for it still stops as on any Ctrl-C."""

    def __init__(self, results: Sequence[SubmissionResult], not_graded: Sequence[str]) -> None:
        super().__init__(f"interrupted: {len(not_graded)} submission(s) not graded")
        self.results = list(results)
        """The submissions that finished (written, or ``unwritten`` saying why), in input order."""
        self.not_graded = list(not_graded)
        """The names of the submissions not graded (the inputs, if intake was interrupted)."""


def grade(
    paths: Sequence[Path],
    *,
    out: Path,
    assignment: str | None = None,
    jobs: int = 1,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
    on_result: Callable[[SubmissionResult, Path], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    data: Path | None = None,
    execute: ExecuteOptions | None = None,
    regrade: bool = False,
    executor: str = "local",
    scheduler: str | None = None,
    on_resume: Callable[[int, int], None] | None = None,
) -> list[SubmissionResult]:
    """Grade every submission under ``paths`` into ``out/<folder>/results.json``, then write the
    class views (``index.html``, ``grades.csv``: ``grader.report.class_views``) into ``out``.

    ``out`` keeps a results store (``grader.store``, ``out/.nngrader.sqlite``): a submission
    finished in an earlier run into ``out`` is not graded again unless what is graded changed
    (its files, the spec, the limits, ...) or ``regrade``; a run that was killed resumes where it
    stopped.
    Each result's ``folder`` is its name when that is a safe folder name, else a safe slug of it
    (``grader.report.names``). Each result is stored and written the moment it is graded,
    whatever ``jobs``, so an interrupted batch keeps what finished. A result whose files cannot
    be written comes back with ``unwritten`` saying why, and the batch goes on; class views
    (built from every result in the store) that cannot be written are logged.

    Args:
        jobs: worker processes (``local``), or a ``LocalCluster``'s workers (``dask``).
        executor: ``local`` (this machine; a worker that dies is replaced, its submission tried
            again up to ``grader.store.MAX_ATTEMPTS`` times) or ``dask`` (``scheduler``'s
            cluster, else a ``LocalCluster``: ``grader.executors.cluster``).
        scheduler: a Dask scheduler's address (``tcp://host:port``), with ``executor="dask"``.
        on_start: called with a submission's name and how many this run grades as its grading
            starts.
        on_result: called with each result and its results.json path once written, in the
            order they finish.
        on_resume: called once before grading with how many submissions keep their result from
            an earlier run and how many are graded now.

    Returns:
        The results in input order (those kept from an earlier run included).

    Raises:
        GraderError: ``out`` or its store cannot be created or is in use by another run
            (before anything is graded), or the run's setup is wrong (a spec, the sandbox, the
            cluster).
        GradingInterrupted: Ctrl-C (SIGINT to this process or a worker): the running
            submissions' sandboxes are torn down, what finished is written (class views too).
    """
    if executor not in EXECUTORS:
        raise GraderError(f"unknown executor {executor!r} ({', '.join(EXECUTORS)})")
    spec = get_spec(assignment) if assignment else None
    specs = tuple(available_specs().values())  # parsed once, not once per submission
    # Refuse early, before any work, when unavailable here (a cluster's workers check their own).
    remote = executor == "dask" and scheduler is not None
    isolation = _requested_mode(sandbox) if remote else resolve_mode(sandbox)
    settings = Settings(spec, isolation, dict(limits or {}), cifar_folder(data), execute, specs)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GraderError(f"cannot create the output folder {out}: {exc}") from exc
    stop = fanout.Stop()
    how = batch.How(executor, jobs, scheduler, regrade)
    hooks = batch.Hooks(on_start, on_result, on_resume)
    # Ctrl-C is caught around the whole batch, temporary folder included: the teardown (the
    # sandboxes, the class views, removing the temporary files) must not be cut short by it.
    with (
        Store.open(out) as store,
        stop.catching(),
        tempfile.TemporaryDirectory(prefix="nngrader-") as tmp,
    ):
        packages = intake.bundled_package_names() | intake.package_names([spec] if spec else [])
        try:
            with stop.exposed():
                submissions = intake.collect(
                    [Path(p) for p in paths], Path(tmp) / "intake", packages=packages
                )
        except KeyboardInterrupt:
            raise GradingInterrupted([], [str(p) for p in paths]) from None
        work = Path(tmp) / "work"
        work.mkdir(mode=0o700)  # sandbox uids may search it (to their own folder), never list it
        results, not_graded = batch.run(
            submissions, out=out, store=store, settings=settings, specs=specs, workdir=work,
            stop=stop, how=how, hooks=hooks,
        )  # fmt: skip
        if not_graded:
            raise GradingInterrupted(results, not_graded)
    return results


def _requested_mode(sandbox: str) -> str:
    """The mode a cluster's workers must run (each checks it can): ``auto`` is ``bwrap``, since
    it never falls back to running without isolation; ``best`` is for one machine (the kit)."""
    if sandbox == "best":
        raise SandboxUnavailable("--sandbox best is for one machine: a cluster needs auto/process")
    if sandbox not in ("auto", "bwrap", "process"):
        raise SandboxUnavailable(f"unknown sandbox mode {sandbox!r} (auto, bwrap, process)")
    return "process" if sandbox == "process" else "bwrap"


def check(
    path: Path,
    *,
    assignment: str | None = None,
    sandbox: str = "auto",
    limits: Mapping[str, float] | None = None,
    data: Path | None = None,
    execute: ExecuteOptions | None = None,
) -> SubmissionResult:
    """Grade one submission on its public checks only (students, CI).

    Raises:
        KeyboardInterrupt: Ctrl-C; the submission's processes are killed first (as in ``grade``).
    """
    spec = get_spec(assignment) if assignment else None
    stop = fanout.Stop()
    with stop.catching(), tempfile.TemporaryDirectory(prefix="nngrader-") as tmp:
        with stop.exposed(), fanout.killing_leftovers():
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


def write_reports(
    results: Sequence[SubmissionResult],
    *,
    junit: Path | None = None,
    summary: Path | None = None,
    step_summary: bool = False,
) -> None:
    """Write the CI reports of ``results``: ``junit`` (JUnit XML, ``grader.report.junit``) and
    ``summary`` (Markdown, ``grader.report.markdown``), each whole (a temporary file renamed over
    it, its folder made if missing). The summary is also appended to ``$GITHUB_STEP_SUMMARY``
    when that is set (GitHub Actions shows it on the run's page), and only appended when
    ``summary`` is that very file (replacing it would drop the other steps' summaries).
    ``step_summary`` appends it there even without ``summary`` (``check --format github``).

    Raises:
        GraderError: a file could not be written.
    """
    from grader.report.junit import junit_xml
    from grader.report.markdown import summary_markdown

    if junit is not None:
        _write_file(junit, junit_xml(results))
    if summary is None and not step_summary:
        return
    text, step = summary_markdown(results), os.environ.get("GITHUB_STEP_SUMMARY")
    if summary is not None and (not step or Path(step).resolve() != summary.resolve()):
        _write_file(summary, text)
    if step:
        try:
            with open(step, "a", encoding="utf-8", errors="backslashreplace") as file:
                file.write(text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            raise GraderError(f"$GITHUB_STEP_SUMMARY {step}: cannot append to it: {exc}") from exc


def _write_file(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, text)
    except OSError as exc:
        raise GraderError(f"{path}: cannot write it: {exc.strerror or exc}") from exc


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
