"""The results store's file: one SQLite database that is the truth about gradings, whether a batch
(``grader.store.Store``: the ``submissions`` table) or the grading service
(``grader.service.jobs.Jobs``: the ``jobs`` table) writes them. ``open_database`` opens it with
its schema made, its version checked and its lock taken.

One schema for both, so that any store file serves either (``nngrader serve --db
OUT/.nngrader.sqlite`` serves from a batch's store) and neither misreads the other: ``runs`` is
every process that wrote into the file (a batch, a service), ``submissions`` a batch's rows,
``jobs`` the service's. The SQL is plain (no SQLite-only types or upserts) so that PostgreSQL could
take SQLite's place.

The conventions: WAL (readers look while one writer writes; the file must be on a local disk, as
WAL needs shared memory between the processes that open it), ``synchronous=FULL`` (a commit
survives the machine stopping), a ``meta`` table whose ``schema`` row says which layout the file
holds, so that an older or newer nngrader never misreads it. One process writes at a time: a lock
file beside the database (``lock_path``) refuses a second batch or service, a POSIX lock, or on
Windows, which has no ``fcntl``, an ``msvcrt`` one; both die with the process that holds them, so a
killed run leaves no stale lock.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from grader import __version__
from grader.errors import GraderError

__all__ = ["SCHEMA_VERSION", "Database", "lock_path", "open_database"]

SCHEMA_VERSION = "2"
_UPGRADES = ("1",)
"""Versions this one reads by making what is missing: version 1 was a batch's store (``runs``,
``submissions``) or a service's jobs file (``jobs``), each a part of version 2."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    ended REAL,
    pid INTEGER NOT NULL,
    version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    name TEXT NOT NULL,
    folder TEXT NOT NULL,
    content TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    finalised INTEGER NOT NULL DEFAULT 0,
    run INTEGER,
    reason TEXT,
    queued REAL,
    started REAL,
    finished REAL,
    seconds REAL,
    result TEXT,
    files TEXT,
    unwritten TEXT,
    PRIMARY KEY (name, folder)
);
CREATE UNIQUE INDEX IF NOT EXISTS submissions_folder ON submissions (folder COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    course TEXT,
    assignment TEXT NOT NULL,
    name TEXT NOT NULL,
    student TEXT,
    submitter TEXT NOT NULL,
    upload TEXT,
    notes TEXT,
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
"""``runs``: each batch or service that opened the file (Unix times, its process, its nngrader).

``submissions`` (a batch, ``grader.store``): ``name`` is the submission's name as a JSON string (a
name may hold bytes that are not UTF-8, which SQLite text cannot); ``content`` the hash of what is
graded; ``attempts`` the gradings started for this content that did not give a result back (an
interrupt gives its attempt back); ``run`` the ``runs.id`` that finalised it; ``reason`` why the
last attempt ended without a result (or why it failed); ``queued``/``started``/``finished`` Unix
times; ``seconds`` the grading's wall time; ``result`` the instructor.json document; ``files`` the
written files (JSON list, relative to OUT), NULL until rendered; ``unwritten`` why they could not
be written.

``jobs`` (the service, ``grader.service.jobs``): ``course`` NULL for an anonymous self-check of a
course-less assignment; ``name`` the submission's name in its result; ``student`` the submitting
student (NULL: anonymous, or an instructor's upload); ``submitter`` whom the hourly limit counts;
``upload`` the file under the service's ``uploads/`` (NULL: nothing to grade, the job was failed at
intake); ``notes`` what intake of a class export skipped of this student's files (JSON list; the
upload kept is the clean copy, so its grading cannot see them again); ``attempt`` the number of the
latest claim (never decreases), ``attempts`` the claims that count against ``MAX_ATTEMPTS``;
``finalised`` how many times a result was stored since the job was (re)queued: 1 once done or
failed; ``result`` the instructor.json document."""


def lock_path(database: Path) -> Path:
    """The lock file of ``database``: beside it, ``.sqlite`` replaced by ``.lock``
    (``OUT/.nngrader.sqlite``: ``OUT/.nngrader.lock``)."""
    stem = database.name.removesuffix(".sqlite")
    return database.with_name(stem + ".lock")


@dataclass
class Database:
    """An open store file: its connection, its lock (held until ``close``), and this process's
    row in ``runs``."""

    db: sqlite3.Connection
    lock: IO[bytes]
    run: int

    def close(self) -> None:
        """Record this run's end, close the connection and release the lock."""
        with contextlib.suppress(sqlite3.Error), self.db:
            self.db.execute("UPDATE runs SET ended = ? WHERE id = ?", (time.time(), self.run))
        self.db.close()
        self.lock.close()


def open_database(path: Path, *, shared: bool = False) -> Database:
    """The store at ``path``, created if missing, locked for this process, with a new run.

    Args:
        shared: one connection used by several threads (each use under the caller's lock).

    Raises:
        GraderError: it cannot be created or read, holds another schema version, or another
            process writes into it.
    """
    try:
        lock = open(lock_path(path), "wb")  # held until Database.close
    except OSError as exc:
        raise GraderError(f"cannot create the results store {path}: {exc}") from exc
    try:
        if not _lock(lock):
            raise GraderError(
                f"another nngrader (a batch or a service) is writing into {path} "
                f"({lock_path(path).name} is locked)"
            )
        db = _connect(path, shared)
        with db:
            run = db.execute(
                "INSERT INTO runs (started, pid, version) VALUES (?, ?, ?)",
                (time.time(), os.getpid(), __version__),
            ).lastrowid
    except sqlite3.Error as exc:
        lock.close()
        raise GraderError(f"cannot use the results store {path}: {exc}") from exc
    except GraderError:
        lock.close()
        raise
    return Database(db, lock, int(run or 0))


def _connect(path: Path, shared: bool) -> sqlite3.Connection:
    """The database at ``path`` with the schema made and its version checked (an older one
    this version reads is marked as this one)."""
    db = sqlite3.connect(path, timeout=30, check_same_thread=not shared)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        with db:
            found = None
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is not None and found[0] not in (SCHEMA_VERSION, *_UPGRADES):
                # Before anything is made: a newer nngrader's file is left as it is.
                raise GraderError(
                    f"{path}: schema {found[0]} is unknown (this nngrader: {SCHEMA_VERSION})"
                )
            db.executescript(SCHEMA)
            _add_columns(db)
            if found is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif found[0] != SCHEMA_VERSION:
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
    except (sqlite3.Error, GraderError):
        db.close()
        raise
    return db


_ADDED = (("jobs", "notes", "TEXT"),)
"""Columns version 2 has that a version-1 table (made before) lacks: ``(table, column, type)``."""


def _add_columns(db: sqlite3.Connection) -> None:
    """Add to tables an older version made the columns they lack (``_ADDED``)."""
    for table, column, kind in _ADDED:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _lock(handle: IO[bytes]) -> bool:
    """Take the store's lock on ``handle`` without waiting: False when another process holds it.
    (``fcntl`` is imported here: ``grader.api`` imports the store, and ``nngrader check``, which
    opens none, must run where there is no ``fcntl``.)

    Raises:
        GraderError: this machine has no file lock the store knows.
    """
    try:
        import fcntl
    except ImportError:
        return _lock_windows(handle)
    try:
        # A POSIX lock: released when this process dies, and not inherited by forked workers.
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _lock_windows(handle: IO[bytes]) -> bool:
    """``_lock`` where there is no ``fcntl``: Windows' lock of the file's first byte, released
    when the file is closed or this process dies."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    raise GraderError(
        "no file locks on this machine (no fcntl module): nngrader cannot keep a second "
        "batch or service out of a results store; nngrader check needs no store"
    )
