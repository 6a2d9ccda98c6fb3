"""One job's grading, as it runs in a child process of the service, and the documents of a
job that could not be graded.

Every stored upload is a zip of one submission (``grader.service.uploads`` makes it so): the
child takes it in with intake (no LMS splitting), grades it with the batch's own code
(``grader.executors.job.grade_one``: the pipeline in the sandbox) and sends back its
instructor.json document. The child ignores nothing: Ctrl-C (SIGINT, what the service sends to
stop it) tears its sandboxes down, and it gets SIGINT when the service dies.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

from grader import fanout, intake, pipeline
from grader.errors import GraderError
from grader.executors import Document
from grader.executors.job import Settings, grade_one
from grader.intake import ExtractLimits, Submission
from grader.report.instructor import to_instructor
from grader.sandbox import resolve_mode
from grader.service.jobs import Claimed
from grader.spec.registry import available_specs, get_spec

__all__ = ["child_main", "failure", "grade_upload", "take_in"]

_PR_SET_PDEATHSIG = 1


def take_in(
    upload: Path,
    name: str,
    workdir: Path,
    limits: ExtractLimits,
    *,
    lms: bool = False,
    notes: Sequence[str] = (),
) -> list[Submission]:
    """The submissions in ``upload`` (a zip), taken in under ``workdir``, each named ``name``
    unless ``lms`` splits a class export into its students; ``notes`` (a job's: what intake
    skipped before the upload was made) come first in each one's notes."""
    # A copy named for intake: a zip's submission is named after the file.
    staged = workdir / "upload" / "submission.zip"
    staged.parent.mkdir(parents=True)
    shutil.copyfile(upload, staged)
    taken = intake.collect([staged], workdir / "intake", limits=limits, lms=lms)
    if lms:
        return taken
    return [replace(s, name=name, notes=(*notes, *s.notes)) for s in taken]


def grade_upload(job: Claimed, sandbox: str, limits: ExtractLimits) -> Document:
    """Grade ``job``'s upload against its assignment: its instructor.json document.

    Raises:
        GraderError: the grader cannot run here (the spec, the sandbox).
    """
    with tempfile.TemporaryDirectory(prefix="nngrader-service-") as tmp:
        (submission,) = take_in(job.upload, job.name, Path(tmp), limits, notes=job.notes)
        specs = tuple(available_specs().values())
        spec = get_spec(job.assignment)
        settings = Settings(spec, resolve_mode(sandbox), {}, None, None, specs)
        return grade_one(submission, settings, Path(tmp) / "work")


def failure(name: str, assignment: str, reason: str) -> Document:
    """The document of a job that could not be graded (score 0, ``reason`` as its error)."""
    try:
        spec = get_spec(assignment)
    except GraderError:
        spec = None
    return to_instructor(pipeline.failed(name, spec, "", "", reason))


def child_main(conn: Connection, job: Claimed, sandbox: str, limits: ExtractLimits) -> None:
    """A grading child's whole life: send ``("ok", document)`` or ``("error", message)``."""
    fanout.start_worker()
    _die_with_parent()
    outcome: tuple[str, object]
    try:
        document = fanout.in_worker(lambda: grade_upload(job, sandbox, limits))
        outcome = "ok", document
    except GraderError as exc:
        outcome = "error", f"the grader could not run: {exc}"
    except KeyboardInterrupt:
        return  # stopped by the service: it gives the attempt back
    conn.send(outcome)
    conn.close()


def _die_with_parent() -> None:
    """SIGINT from the kernel when the service dies: the child tears its sandboxes down."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
