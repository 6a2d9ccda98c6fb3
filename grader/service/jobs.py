"""The service's jobs table: one row per submission to grade, in SQLite.

The same conventions as a batch's results store (``grader.store``): WAL and ``synchronous=FULL``
(a job taken or a result stored survives a SIGKILL and the machine stopping), one file
(``--db PATH``), states ``queued`` -> ``running`` -> ``done`` | ``failed``, attempts bounded by
``MAX_ATTEMPTS``, and every result stored exactly once. The schema is plain SQL (no SQLite-only
types or upserts) so that PostgreSQL could take its place.

Exactly once: each claim of a job bumps its ``attempt`` (a number that never goes back), and a
result is stored only ``WHERE id = ? AND state = 'running' AND attempt = ?``. A grading given up
for dead (its process was killed, it ran past its time) that still answers later changes
nothing: the job was queued again, or finished by the attempt after it.

The uploaded files live in ``uploads/`` beside the database, named after their job. A job and
its file appear together: the file is written to a temporary name first and renamed into place
inside the transaction that adds the row (a file left without a row by a crash in between is
removed at the next start). One service uses one database at a time; its threads share this
object (a lock serialises them).
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

from grader.database import connect
from grader.errors import GraderError
from grader.executors import Document
from grader.store import MAX_ATTEMPTS

__all__ = ["MAX_ATTEMPTS", "Claimed", "Job", "Jobs", "NewJob"]

SCHEMA_VERSION = "1"
PARTIAL = ".partial"
"""The suffix of an upload not yet renamed into place."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    course TEXT,
    assignment TEXT NOT NULL,
    name TEXT NOT NULL,
    student TEXT,
    submitter TEXT NOT NULL,
    upload TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempt INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    finalised INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    submitted REAL NOT NULL,
    started REAL,
    finished REAL,
    score REAL,
    max_score REAL,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, submitted);
CREATE INDEX IF NOT EXISTS jobs_course ON jobs (course, submitted);
CREATE INDEX IF NOT EXISTS jobs_submitter ON jobs (submitter, submitted);
"""
"""``course`` NULL for an anonymous self-check of a course-less assignment; ``name`` the
submission's name in its result; ``student`` the submitting student (NULL: anonymous, or an
instructor's upload); ``submitter`` whom the hourly limit counts; ``upload`` the file under
``uploads/`` (NULL: nothing to grade, the job was failed at intake); ``attempt`` the number of
the latest claim (never decreases), ``attempts`` the claims that count against
``MAX_ATTEMPTS``; ``finalised`` how many times a result was stored since the job was (re)queued:
1 once done or failed; ``result`` the instructor.json document."""


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


_JOB = (
    "SELECT id, course, assignment, name, student, state, attempts, submitted, started, "
    "finished, score, max_score, error FROM jobs"
)


class Jobs:
    """The jobs table of one service; ``Jobs.open`` makes one."""

    def __init__(self, db: sqlite3.Connection, uploads: Path) -> None:
        self._db, self.uploads = db, uploads
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, uploads: Path) -> Jobs:
        """Open (or create) the jobs database at ``path``, uploads kept in ``uploads``.

        Raises:
            GraderError: the database cannot be created or read.
        """
        try:
            uploads.mkdir(parents=True, exist_ok=True)
            # One connection shared by the service's threads, each use under the lock.
            db = connect(path, _SCHEMA, SCHEMA_VERSION, shared=True)
        except (OSError, sqlite3.Error) as exc:
            raise GraderError(f"cannot use the jobs database {path}: {exc}") from exc
        jobs = cls(db, uploads)
        jobs._sweep()
        return jobs

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, under the lock: committed, or rolled back on any exception."""
        with self._lock, self._db:
            yield self._db

    # -- adding ----------------------------------------------------------------------------------

    def add(self, new: Sequence[NewJob]) -> list[str]:
        """Add ``new`` in one transaction; returns their ids. Either every job is added with its
        upload in place, or none is and their temporary files are removed."""
        ids = [secrets.token_hex(12) for _ in new]  # unguessable, and no count of the others
        moved: list[Path] = []
        now = time.time()
        try:
            with self._tx() as db:
                for job_id, job in zip(ids, new, strict=True):
                    upload = None if job.upload is None else f"{job_id}{job.suffix}"
                    doc = job.failed
                    db.execute(
                        "INSERT INTO jobs (id, course, assignment, name, student, submitter, "
                        "upload, state, finalised, submitted, finished, score, max_score, error, "
                        "result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (job_id, job.course, job.assignment, job.name, job.student, job.submitter,
                         upload, "queued" if doc is None else "failed", 0 if doc is None else 1,
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
            job_id, assignment, name, upload, attempt = db.execute(
                "SELECT id, assignment, name, upload, attempt FROM jobs WHERE id = ?", found
            ).fetchone()
        return Claimed(job_id, assignment, name, self.uploads / upload, attempt)

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
