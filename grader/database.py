"""The SQLite conventions the batch store (``grader.store``) and the service's jobs table
(``grader.service.jobs``) share: WAL (readers look while one writer writes), ``synchronous=FULL``
(a commit survives the machine stopping), a ``meta`` table whose ``schema`` row says which
layout the file holds, so that an older or newer nngrader never misreads it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from grader.errors import GraderError

__all__ = ["connect"]


def connect(path: Path, schema: str, version: str, *, shared: bool = False) -> sqlite3.Connection:
    """The database at ``path`` with ``schema`` (SQL that creates what is missing, including
    ``meta(key, value)``) made and its version checked.

    Args:
        shared: one connection used by several threads (each use under the caller's lock).

    Raises:
        sqlite3.Error: SQLite refused (the caller names the database in its message).
        GraderError: the file holds another schema version.
    """
    db = sqlite3.connect(path, timeout=30, check_same_thread=not shared)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        with db:
            db.executescript(schema)
            found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (version,))
            elif found[0] != version:
                raise GraderError(
                    f"{path}: schema {found[0]} is unknown (this nngrader: {version})"
                )
    except (sqlite3.Error, GraderError):
        db.close()
        raise
    return db
