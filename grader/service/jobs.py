"""The service's jobs: the ``jobs`` table of a results store, one row per submission to grade.

The store is a batch's (``grader.database``: one schema, ``nngrader serve --db PATH`` any store
file), with its conventions: WAL and ``synchronous=FULL`` (a job taken or a result stored survives
a SIGKILL and the machine stopping), one writer at a time (a second service, or a batch, is
refused while this one runs), states ``queued`` -> ``running`` -> ``done`` | ``failed``,
attempts bounded by ``MAX_ATTEMPTS``, and every result stored exactly once.

Exactly once: each claim of a job bumps its ``attempt`` (a number that never goes back), and a
result is stored only ``WHERE id = ? AND state = 'running' AND attempt = ?``. A grading given up
for dead (its process was killed, it ran past its time) that still answers later changes
nothing: the job was queued again, or finished by the attempt after it.

The uploaded files live in ``uploads/`` beside the database, named after their job. A job and
its file appear together: the file is written to a temporary name first and renamed into place
inside the transaction that adds the row (a file left without a row by a crash in between is
removed at the next start). The service's threads share this object (a lock serialises them),
so what ``add`` admits is decided with the table as it is when the job goes in: a burst of
uploads cannot slip past the queue's length or a student's hourly limit together.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.database import Database, open_database
from grader.errors import GraderError
from grader.executors import Document
from grader.store import MAX_ATTEMPTS

__all__ = ["MAX_ATTEMPTS", "Claimed", "Job", "Jobs", "NewJob"]

PARTIAL = ".partial"
"""The suffix of an upload not yet renamed into place."""


@dataclass(frozen=True)
class NewJob:
    """A job to add: who and what, and its upload (a temporary file, renamed into place)."""

    course: str | None
    assignment: str
    name: str
    student: str | None
    submitter: str
    upload: Path | None
    """A file in ``Jobs.uploads`` ending in ``.partial``; None with ``failed``."""
    suffix: str = ".zip"
    """The stored upload's suffix (how the worker takes it in): ``.zip``, ``.py``, ``.ipynb``."""
    failed: Document | None = None
    """A result to store at once (the submission could not be taken in)."""
    notes: tuple[str, ...] = ()
    """What intake skipped of the files before ``upload`` was made from them (given to the
    grading as intake's own notes)."""


@dataclass(frozen=True)
class Job:
    """A job as the API shows it."""

    id: str
    course: str | None
    assignment: str
    name: str
    student: str | None
    state: str
    attempts: int
    submitted: float
    started: float | None
    finished: float | None
    score: float | None
    max_score: float | None
    error: str | None


@dataclass(frozen=True)
class Claimed:
    """A job a worker took: what to grade, and which attempt it is."""

    id: str
    assignment: str
    name: str
    upload: Path
    attempt: int
    notes: tuple[str, ...] = ()
    """``NewJob.notes``."""


_JOB = (
    "SELECT id, course, assignment, name, student, state, attempts, submitted, started, "
    "finished, score, max_score, error FROM jobs"
)


class Jobs:
    """The jobs table of one service; ``Jobs.open`` makes one."""

    def __init__(self, database: Database, uploads: Path) -> None:
        self._database, self._db, self.uploads = database, database.db, uploads
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, uploads: Path) -> Jobs:
        """Open (or create) the results store at ``path`` (``grader.database``) for the
        service's jobs, uploads kept in ``uploads``.

        Raises:
            GraderError: the store cannot be created or read, or another batch or service
                writes into it.
        """
        try:
            uploads.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GraderError(f"cannot use the uploads folder {uploads}: {exc}") from exc
        # One connection shared by the service's threads, each use under the lock.
        jobs = cls(open_database(path, shared=True), uploads)
        jobs._sweep()
        return jobs

    def close(self) -> None:
        with self._lock:
            self._database.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, under the lock: committed, or rolled back on any exception."""
        with self._lock, self._db:
            yield self._db

    # -- adding ----------------------------------------------------------------------------------

    def add(self, new: Sequence[NewJob], admit: Callable[[], None] | None = None) -> list[str]:
        """Add ``new`` in one transaction; returns their ids. Either every job is added with its
        upload in place, or none is and their temporary files are removed.

        Args:
            admit: called first, inside the transaction (its reads of this table, ``queued`` and
                ``recent``, see what no other thread can change before the jobs are in); it
                raises to refuse them.
        """
        ids = [secrets.token_hex(12) for _ in new]  # unguessable, and no count of the others
        moved: list[Path] = []
        now = time.time()
        try:
            with self._tx() as db:
                if admit is not None:
                    admit()
                for job_id, job in zip(ids, new, strict=True):
                    upload = None if job.upload is None else f"{job_id}{job.suffix}"
                    doc = job.failed
                    db.execute(
                        "INSERT INTO jobs (id, course, assignment, name, student, submitter, "
                        "upload, notes, state, finalised, submitted, finished, score, max_score, "
                        "error, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (job_id, job.course, job.assignment, job.name, job.student, job.submitter,
                         upload, json.dumps(list(job.notes)) if job.notes else None,
                         "queued" if doc is None else "failed", 0 if doc is None else 1,
                         now, None if doc is None else now, *_summary(doc)),
                    )  # fmt: skip
                    if job.upload is not None and upload is not None:
                        os.replace(job.upload, self.uploads / upload)
                        moved.append(self.uploads / upload)
        except BaseException:
            for path in [*moved, *(j.upload for j in new if j.upload is not None)]:
                path.unlink(missing_ok=True)
            raise
        return ids

    def _sweep(self) -> None:
        """Remove uploads that never got their row (a crash between the rename and the commit)
        and temporary files."""
        with self._lock:
            kept = {r[0] for r in self._db.execute("SELECT upload FROM jobs").fetchall()}
        for path in self.uploads.iterdir():
            if path.name not in kept:
                path.unlink(missing_ok=True)

    # -- a job's life ----------------------------------------------------------------------------

    def claim(self) -> Claimed | None:
        """Take the oldest queued job (running, one more attempt), or None."""
        with self._tx() as db:
            found = db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' AND upload IS NOT NULL "
                "ORDER BY submitted, rowid LIMIT 1"
            ).fetchone()
            if found is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', attempt = attempt + 1, "
                "attempts = attempts + 1, started = ? WHERE id = ? AND state = 'queued'",
                (time.time(), found[0]),
            )
            job_id, assignment, name, upload, attempt, notes = db.execute(
                "SELECT id, assignment, name, upload, attempt, notes FROM jobs WHERE id = ?", found
            ).fetchone()
        kept = tuple(json.loads(notes)) if notes else ()
        return Claimed(job_id, assignment, name, self.uploads / upload, attempt, kept)

    def finalise(self, job: str, attempt: int, result: Document, *, failed: bool) -> bool:
        """Store ``result`` (an instructor.json document) as attempt ``attempt``'s: done, or
        failed. Returns False, changing nothing, unless that attempt is the job's running one."""
        with self._tx() as db:
            return _finalise(db, job, attempt, result, failed)

    def lost(self, job: str, attempt: int, reason: str, failure: Document) -> bool:
        """Attempt ``attempt`` ended without a result (``reason``): the job is queued again, or
        after ``MAX_ATTEMPTS`` failed with ``failure``. Returns whether it was queued again
        (False also when the attempt is not the running one: nothing changes)."""
        with self._tx() as db:
            found = db.execute(
                "SELECT attempts FROM jobs WHERE id = ? AND state = 'running' AND attempt = ?",
                (job, attempt),
            ).fetchone()
            if found is None:
                return False
            if found[0] >= MAX_ATTEMPTS:
                _finalise(db, job, attempt, failure, True)
                return False
            db.execute(
                "UPDATE jobs SET state = 'queued', reason = ? WHERE id = ? AND attempt = ?",
                (reason, job, attempt),
            )
            return True

    def release(self, job: str, attempt: int) -> None:
        """The service stopped attempt ``attempt`` (shutdown): queued again, the attempt given
        back (nothing is known against the submission)."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = 'queued', attempts = attempts - 1 "
                "WHERE id = ? AND state = 'running' AND attempt = ?",
                (job, attempt),
            )

    def requeue_dead(self, failure: Callable[[str, str, str], Document]) -> int:
        """At start: the jobs a dead service left running are queued again, their attempt
        counted; one out of attempts is failed with ``failure(name, assignment, reason)``.
        Returns how many there were."""
        reason = "the service stopped while it was being graded"
        with self._tx() as db:
            found = db.execute(
                "SELECT id, name, assignment, attempt, attempts FROM jobs WHERE state = 'running'"
            ).fetchall()
            for job_id, name, assignment, attempt, attempts in found:
                if attempts >= MAX_ATTEMPTS:
                    _finalise(db, job_id, attempt, failure(name, assignment, reason), True)
                else:
                    db.execute("UPDATE jobs SET state = 'queued', reason = ? WHERE id = ?",
                               (reason, job_id))  # fmt: skip
        return len(found)

    def regrade(self, job: str) -> bool:
        """Queue a finished job again, attempts from zero. False: it is not finished, or has
        nothing to grade."""
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE jobs SET state = 'queued', attempts = 0, finalised = 0, reason = NULL,"
                    " started = NULL, finished = NULL, score = NULL, max_score = NULL, "
                    "error = NULL, result = NULL "
                    "WHERE id = ? AND state IN ('done', 'failed') AND upload IS NOT NULL",
                    (job,),
                ).rowcount
                == 1
            )

    # -- reading ---------------------------------------------------------------------------------

    def get(self, job: str) -> Job | None:
        with self._lock:
            found = self._db.execute(_JOB + " WHERE id = ?", (job,)).fetchone()
        return None if found is None else Job(*found)

    def of_course(self, course: str) -> list[Job]:
        """A course's jobs, oldest first."""
        with self._lock:
            found = self._db.execute(
                _JOB + " WHERE course = ? ORDER BY submitted, rowid", (course,)
            ).fetchall()
        return [Job(*row) for row in found]

    def result(self, job: str) -> Document | None:
        """A finished job's instructor.json document."""
        with self._lock:
            found = self._db.execute("SELECT result FROM jobs WHERE id = ?", (job,)).fetchone()
        return None if found is None or found[0] is None else dict(json.loads(found[0]))

    def results(self, course: str) -> list[Document]:
        """Every finished job's document of ``course``, oldest first."""
        return [doc for _, doc in self.graded(course)]

    def graded(self, course: str) -> list[tuple[str, Document]]:
        """Every finished job of ``course`` and its document, oldest first."""
        with self._lock:
            found = self._db.execute(
                "SELECT id, result FROM jobs WHERE course = ? AND result IS NOT NULL "
                "ORDER BY submitted, rowid",
                (course,),
            ).fetchall()
        return [(row[0], dict(json.loads(row[1]))) for row in found]

    def counts(self, job: str) -> tuple[int, int] | None:
        """``(attempt, finalised)`` of ``job``: what the exactly-once rule keeps."""
        with self._lock:
            found = self._db.execute(
                "SELECT attempt, finalised FROM jobs WHERE id = ?", (job,)
            ).fetchone()
        return None if found is None else (int(found[0]), int(found[1]))

    def queued(self) -> int:
        """How many jobs wait."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'")
                       .fetchone()[0])  # fmt: skip

    def recent(self, submitter: str, since: float) -> list[float]:
        """When ``submitter`` submitted since ``since`` (Unix times)."""
        with self._lock:
            found = self._db.execute(
                "SELECT submitted FROM jobs WHERE submitter = ? AND submitted >= ?",
                (submitter, since),
            ).fetchall()
        return [float(row[0]) for row in found]


def _summary(doc: Document | None) -> tuple[Any, ...]:
    """``score, max_score, error, result`` columns of a result document."""
    if doc is None:
        return None, None, None, None
    return (doc.get("score"), doc.get("max_score"), doc.get("error"),
            json.dumps(doc, allow_nan=False))  # fmt: skip


def _finalise(
    db: sqlite3.Connection, job: str, attempt: int, result: Document, failed: bool
) -> bool:
    changed = db.execute(
        "UPDATE jobs SET state = ?, finalised = finalised + 1, finished = ?, score = ?, "
        "max_score = ?, error = ?, result = ? "
        "WHERE id = ? AND state = 'running' AND attempt = ?",
        ("failed" if failed else "done", time.time(), *_summary(result), job, attempt),
    ).rowcount
    return bool(changed == 1)
