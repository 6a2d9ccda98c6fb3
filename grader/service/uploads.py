"""Turning an upload into jobs: check it, take it in, keep it as one zip per submission.

An upload is checked with intake (``grader.intake``, the service's limits) before anything is
kept: a file that is not a ``.zip``, ``.ipynb`` or ``.py``, a zip that does not open, one that
breaks a limit or holds no Python file is refused with intake's message (422) and leaves nothing
behind. What is kept is always a zip of one submission, so a worker takes every job in the same
way: a student's zip as uploaded, a lone file zipped under its own name, and each student of a
class export zipped from their clean copy (what intake skipped of it kept as the job's notes,
which its grading reports as intake's). The zips are written as ``.partial`` files in the
uploads folder; ``Jobs.add`` renames them into place with their rows.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from fastapi import HTTPException, status

from grader.executors import Document
from grader.intake import ExtractLimits, zip_bytes
from grader.service.grading import take_in
from grader.service.jobs import PARTIAL, NewJob

__all__ = ["SUFFIXES", "Who", "class_jobs", "file_name", "student_job"]

SUFFIXES = (".zip", ".ipynb", ".py")
"""What a student may upload: a zip of their folder, a notebook, a Python file."""

Who = tuple[str | None, str, str | None, str]
"""A job's ``course, assignment, student, submitter`` (``grader.service.jobs.NewJob``)."""


def file_name(filename: str | None, suffixes: tuple[str, ...] = SUFFIXES) -> str:
    """The upload's file name without any folder, if its suffix is one of ``suffixes``.

    Raises:
        HTTPException: 422 without a name or with another suffix.
    """
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    if not name or not name.lower().endswith(suffixes):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"expected a {', '.join(suffixes)} file, got {name or 'a file without a name'!r}",
        )
    return name


def _partial(uploads: Path) -> Path:
    return uploads / f"{secrets.token_hex(12)}{PARTIAL}"


def _write(path: Path, data: bytes) -> None:
    """``data`` into ``path``, flushed to the disk (the row that names it is committed next)."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _zip_folder(root: Path, dest: Path) -> None:
    """Every file under ``root`` into the zip ``dest`` (a clean copy: no links, no devices)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    with open(dest, "rb") as file:
        os.fsync(file.fileno())


def student_job(
    data: bytes, filename: str, name: str, who: Who, uploads: Path, limits: ExtractLimits
) -> NewJob:
    """The job of one student's upload (checked with intake), its zip written as a partial file.

    Raises:
        HTTPException: 422 with intake's message: the upload cannot be graded.
    """
    packed = data if filename.lower().endswith(".zip") else zip_bytes({filename: data})
    with tempfile.TemporaryDirectory(prefix="nngrader-upload-") as tmp:
        upload = Path(tmp) / "upload.zip"
        upload.write_bytes(packed)
        (taken,) = take_in(upload, name, Path(tmp) / "in", limits)
    if taken.error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{filename}: {taken.error}")
    path = _partial(uploads)
    _write(path, packed)
    course, assignment, student, submitter = who
    return NewJob(course, assignment, name, student, submitter, path)


def class_jobs(
    data: bytes,
    who: Who,
    uploads: Path,
    limits: ExtractLimits,
    failure: Callable[[str, str, str], Document],
) -> list[NewJob]:
    """One job per submission of a class export (a zip: one folder or zip per student, as
    ``nngrader grade`` takes it). A student whose files cannot be taken in gets a job failed at
    once with the reason (``failure(name, assignment, reason)``), as in a batch.

    Raises:
        HTTPException: 422 when the export itself cannot be taken in.
    """
    course, assignment, student, submitter = who
    made: list[NewJob] = []
    with tempfile.TemporaryDirectory(prefix="nngrader-export-") as tmp:
        upload = Path(tmp) / "export.zip"
        upload.write_bytes(data)
        taken = take_in(upload, "export", Path(tmp) / "in", limits, lms=True)
        if len(taken) == 1 and taken[0].root is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(taken[0].error))
        try:
            for sub in taken:
                if sub.root is None:
                    reason = sub.error or "could not be taken in"
                    made.append(NewJob(course, assignment, sub.name, student, submitter, None,
                                       failed=failure(sub.name, assignment, reason)))  # fmt: skip
                    continue
                path = _partial(uploads)
                _zip_folder(sub.root, path)
                made.append(NewJob(course, assignment, sub.name, student, submitter, path,
                                   notes=sub.notes))  # fmt: skip
        except BaseException:
            for job in made:
                if job.upload is not None:
                    job.upload.unlink(missing_ok=True)
            raise
    return made
