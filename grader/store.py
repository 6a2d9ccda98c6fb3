"""The results store: one SQLite file in the output folder that is the truth about a batch.

``OUT/.nngrader.sqlite`` holds a row per submission, keyed by its name and its output
folder (two students with identical files are two rows), with the hash of what was graded
(``grader.fingerprint``), its state, its attempts and timings, and once it is finalised its
result: the instructor.json document (``grader.report.instructor``), from which every file of
the submission is rendered. Its result files are listed once they are written.

States and what moves a row between them (``MAX_ATTEMPTS`` bounds the retries):

    queued --start--> running --finalise--> done | failed
                         |  \\--release (Ctrl-C, a setup error: the attempt is given back)--> queued
                         \\--crashed (the worker died: the attempt counts)--> queued

A row is finalised once for what it graded: ``finalise`` only changes a row that is queued or
running with the same content, so a result that arrives twice (a task a cluster ran again) is
refused, and ``finalised`` counts the stores of a result (1 once finalised, whatever retries
happened). A row found running when a store is opened belongs to a run that died (SIGKILL, the
machine): it is queued again and its attempt counts, so a submission that brings the batch
down is not retried forever.

Why SQLite: one file, no server, transactions that survive a SIGKILL or (``synchronous=FULL``) the
machine stopping; WAL lets readers look while a batch writes. The file, its schema (shared with the
grading service's jobs) and its lock are ``grader.database``'s: OUT must be on a local disk, and
one run writes at a time (``.nngrader.lock`` refuses a second batch, or a service, until the
first ends or dies). The store's files are hidden files beside the submissions' folders
(``.nngrader.sqlite`` and its ``-wal``/``-shm``, ``.nngrader.lock``): no submission folder can take
their names (a slug never starts with ``.``, ``grader.report.names``), and what lists OUT's folders
finds the submissions only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from grader.database import Database, open_database

__all__ = ["DATABASE", "MAX_ATTEMPTS", "Key", "Row", "Store"]

DATABASE = ".nngrader.sqlite"
MAX_ATTEMPTS = 2
"""Gradings of one submission that may end without a result (its worker died, or the run did)
before it is finalised as failed: one retry, so a worker that died of something else (the
machine's memory, an operator's kill) costs nobody a grade."""
FINAL = ("done", "failed")
"""The states of a finalised row (the others: ``queued``, ``running``)."""


class Key(NamedTuple):
    """A submission's identity in the store."""

    name: str
    folder: str


@dataclass(frozen=True)
class Row:
    """One submission as the store knows it."""

    key: Key
    content: str
    state: str
    attempts: int
    finalised: int
    run: int | None
    reason: str | None
    started: float | None
    finished: float | None
    result: dict[str, Any] | None
    files: tuple[str, ...] | None
    unwritten: str | None


_SELECT = (
    "SELECT name, folder, content, state, attempts, finalised, run, reason, started, finished, "
    "result, files, unwritten FROM submissions"
)


def _row(values: Sequence[Any]) -> Row:
    name, folder, content, state, attempts, finalised, run, reason, started, finished = values[:10]
    result, files, unwritten = values[10:]
    return Row(
        key=Key(json.loads(name), folder),
        content=content,
        state=state,
        attempts=attempts,
        finalised=finalised,
        run=run,
        reason=reason,
        started=started,
        finished=finished,
        result=None if result is None else json.loads(result),
        files=None if files is None else tuple(json.loads(files)),
        unwritten=unwritten,
    )


def _where(key: Key) -> tuple[str, str]:
    return json.dumps(key.name), key.folder


class Store:
    """An open store of one output folder; ``Store.open`` makes one, ``close`` ends its run."""

    def __init__(self, database: Database) -> None:
        self._database, self._db = database, database.db

    @property
    def run(self) -> int:
        """This run's row in ``runs`` (the run that finalises a row is recorded with it)."""
        return self._database.run

    @classmethod
    def open(cls, out: Path) -> Store:
        """Open (or create) ``out``'s store and start a run in it.

        Raises:
            GraderError: the store cannot be created or read, or another run holds it.
        """
        return cls(open_database(out / DATABASE))

    def close(self) -> None:
        """End this run (its end time is recorded) and release the store."""
        self._database.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------

    def row(self, key: Key) -> Row | None:
        """The row of ``key``, if there is one."""
        found = self._db.execute(_SELECT + " WHERE name = ? AND folder = ?", _where(key)).fetchone()
        return None if found is None else _row(found)

    def rows(self, *states: str) -> Iterator[Row]:
        """Every row (in ``states``, when given), by folder."""
        for values in self._db.execute(_SELECT + " ORDER BY folder").fetchall():
            if not states or values[3] in states:
                yield _row(values)

    def written(self) -> list[tuple[Key, tuple[str, ...] | None]]:
        """Each finalised row's key and files (None: not written), without its result."""
        found = self._db.execute(
            "SELECT name, folder, files FROM submissions WHERE state IN ('done', 'failed')"
        ).fetchall()
        return [
            (Key(json.loads(name), folder), None if files is None else tuple(json.loads(files)))
            for name, folder, files in found
        ]

    # -- deciding what to grade ------------------------------------------------------------------

    def requeue_dead(self) -> int:
        """Queue again the rows a run that died left running; their attempts count. Returns how
        many there were."""
        with self._db:
            return self._db.execute(
                "UPDATE submissions SET state = 'queued', reason = COALESCE(reason, ?) "
                "WHERE state = 'running'",
                ("the batch stopped while it was being graded (the grading process or the "
                 "machine died)",),
            ).rowcount  # fmt: skip

    def plan(self, batch: Sequence[tuple[Key, str]], *, regrade: bool = False) -> list[bool]:
        """For each (key, content) of a batch: whether to grade it (True) or keep its result.

        A submission is graded when the store has no row for it, when its content changed, when
        ``regrade`` forces it, or when it is queued (never finished); it is kept when it was
        finalised (done, or failed) for the same content. A graded one is queued with no attempt
        yet, except one queued before, which keeps its attempts. A row with the same name or the
        same folder as a submission of the batch but not both is dropped: its folder is now the
        other submission's, or its student's files are written elsewhere.
        """
        decisions: list[bool] = []
        now = time.time()
        with self._db:
            for key, content in batch:
                name, folder = _where(key)
                self._db.execute(
                    "DELETE FROM submissions WHERE (name = ? OR folder = ? COLLATE NOCASE) "
                    "AND NOT (name = ? AND folder = ?)",
                    (name, folder, name, folder),
                )
                found = self._db.execute(  # not the result: a class's documents are large
                    "SELECT content, state FROM submissions WHERE name = ? AND folder = ?",
                    (name, folder),
                ).fetchone()
                if found is None:
                    self._db.execute(
                        "INSERT INTO submissions (name, folder, content, state, queued) "
                        "VALUES (?, ?, ?, 'queued', ?)",
                        (name, folder, content, now),
                    )
                elif regrade or found[0] != content:
                    self._db.execute(
                        "UPDATE submissions SET content = ?, state = 'queued', attempts = 0, "
                        "finalised = 0, run = NULL, reason = NULL, queued = ?, started = NULL, "
                        "finished = NULL, seconds = NULL, result = NULL, files = NULL, "
                        "unwritten = NULL WHERE name = ? AND folder = ?",
                        (content, now, name, folder),
                    )
                decisions.append(found is None or regrade or found[0] != content
                                 or found[1] not in FINAL)  # fmt: skip
        return decisions

    # -- a grading's life ------------------------------------------------------------------------

    def start(self, key: Key) -> int:
        """``key`` is being graded: running, one more attempt. Returns its attempts."""
        with self._db:
            self._db.execute(
                "UPDATE submissions SET state = 'running', attempts = attempts + 1, started = ? "
                "WHERE name = ? AND folder = ? AND state = 'queued'",
                (time.time(), *_where(key)),
            )
        return self._attempts(key)

    def crashed(self, key: Key, reason: str) -> bool:
        """``key``'s grading ended without a result (its worker died): queued again, the attempt
        counted. Returns whether an attempt is left (else the caller finalises it failed)."""
        with self._db:
            self._db.execute(
                "UPDATE submissions SET state = 'queued', reason = ? "
                "WHERE name = ? AND folder = ? AND state = 'running'",
                (reason, *_where(key)),
            )
        return self._attempts(key) < MAX_ATTEMPTS

    def release(self, keys: Sequence[Key]) -> None:
        """Those of ``keys`` still running were stopped by the batch (Ctrl-C, a setup error):
        queued again with their attempt given back, since nothing is known against them."""
        with self._db:
            for key in keys:
                self._db.execute(
                    "UPDATE submissions SET state = 'queued', attempts = MAX(attempts - 1, 0) "
                    "WHERE name = ? AND folder = ? AND state = 'running'",
                    _where(key),
                )

    def finalise(self, key: Key, content: str, result: dict[str, Any], *, failed: bool) -> bool:
        """Store ``key``'s result (an instructor.json document) for ``content``: done, or failed
        (not graded, ``result`` says why). Returns False, changing nothing, when the row is
        already finalised or now holds other content: a result is stored once."""
        seconds = result.get("seconds")
        with self._db:
            changed = self._db.execute(
                "UPDATE submissions SET state = ?, finalised = finalised + 1, run = ?, "
                "finished = ?, seconds = ?, result = ?, files = NULL, unwritten = NULL "
                "WHERE name = ? AND folder = ? AND content = ? AND state IN ('queued', 'running')",
                (
                    "failed" if failed else "done",
                    self.run,
                    time.time(),
                    seconds if isinstance(seconds, (int, float)) else None,
                    json.dumps(result, allow_nan=False),
                    *_where(key),
                    content,
                ),
            ).rowcount
        return changed == 1

    def rendered(self, key: Key, files: Sequence[str], unwritten: str | None = None) -> None:
        """``key``'s files were written (``files``, relative to OUT), or not (``unwritten``)."""
        with self._db:
            self._db.execute(
                "UPDATE submissions SET files = ?, unwritten = ? WHERE name = ? AND folder = ?",
                (None if unwritten else json.dumps(list(files)), unwritten, *_where(key)),
            )

    def _attempts(self, key: Key) -> int:
        found = self._db.execute(
            "SELECT attempts FROM submissions WHERE name = ? AND folder = ?", _where(key)
        ).fetchone()
        return int(found[0]) if found else 0
