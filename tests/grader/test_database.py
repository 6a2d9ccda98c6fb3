"""The results store's file (``grader.database``): one schema for a batch's rows and the
service's jobs, older files read, the lock that keeps a second batch or service out."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grader.database import SCHEMA_VERSION, lock_path, open_database
from grader.errors import GraderError
from grader.service.jobs import PARTIAL, Jobs, NewJob
from grader.store import DATABASE, Key, Store

ROOT = Path(__file__).resolve().parents[2]

_V1_BATCH = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, ended REAL,
                   pid INTEGER NOT NULL, version TEXT NOT NULL);
CREATE TABLE submissions (name TEXT NOT NULL, folder TEXT NOT NULL, content TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    finalised INTEGER NOT NULL DEFAULT 0, run INTEGER, reason TEXT, queued REAL, started REAL,
    finished REAL, seconds REAL, result TEXT, files TEXT, unwritten TEXT,
    PRIMARY KEY (name, folder));
INSERT INTO meta VALUES ('schema', '1');
INSERT INTO submissions (name, folder, content, state, result)
    VALUES ('"ada"', 'ada', 'c1', 'done', '{"score": 7}');
"""
"""A batch's store as nngrader wrote it before the service's jobs joined the schema."""


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


def test_the_lock_file_sits_beside_the_database() -> None:
    assert lock_path(Path("out") / DATABASE) == Path("out/.nngrader.lock")
    assert lock_path(Path("nngrader-service.sqlite")) == Path("nngrader-service.lock")
    assert lock_path(Path("jobs.db")) == Path("jobs.db.lock")


def test_a_batch_store_and_a_service_use_one_file_with_one_schema(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.plan([(Key("ada", "ada"), "c1")])
    jobs = Jobs.open(tmp_path / DATABASE, tmp_path / "uploads")  # serve from the batch's store
    partial = jobs.uploads / f"bob{PARTIAL}"
    partial.write_bytes(b"zip")
    (job,) = jobs.add([NewJob("cs", "cs231n-2021", "bob", "bob", "cs:bob", partial)])
    jobs.close()
    assert _tables(tmp_path / DATABASE) >= {"meta", "runs", "submissions", "jobs"}
    with Store.open(tmp_path) as store:  # the batch's rows are untouched by the service's
        assert [(r.key.name, r.state) for r in store.rows()] == [("ada", "queued")]
    jobs = Jobs.open(tmp_path / DATABASE, tmp_path / "uploads")
    assert jobs.get(job) is not None and jobs.queued() == 1
    jobs.close()
    db = sqlite3.connect(tmp_path / DATABASE)
    runs = db.execute("SELECT COUNT(*), COUNT(ended) FROM runs").fetchone()
    db.close()
    assert runs == (4, 4)  # two batches, two services: each recorded, each ended


def test_a_version_1_file_is_read_and_marked_version_2(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DATABASE)
    db.executescript(_V1_BATCH)
    db.close()
    with Store.open(tmp_path) as store:
        (row,) = store.rows()
        assert (row.key, row.state, row.result) == (Key("ada", "ada"), "done", {"score": 7})
    db = sqlite3.connect(tmp_path / DATABASE)
    version = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    db.close()
    assert version == (SCHEMA_VERSION,) and "jobs" in _tables(tmp_path / DATABASE)


def test_a_version_1_jobs_file_gets_the_columns_it_lacks(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, course TEXT, assignment TEXT NOT NULL,"
        " name TEXT NOT NULL, student TEXT, submitter TEXT NOT NULL, upload TEXT,"
        " state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,"
        " attempts INTEGER NOT NULL DEFAULT 0, finalised INTEGER NOT NULL DEFAULT 0,"
        " reason TEXT, submitted REAL NOT NULL, started REAL, finished REAL, score REAL,"
        " max_score REAL, error TEXT, result TEXT);"
        "INSERT INTO jobs (id, assignment, name, submitter, upload, state, submitted)"
        " VALUES ('j1', 'cs231n-2021', 'ada', 'cs:ada', 'j1.zip', 'queued', 1.0);"
    )
    db.close()
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "j1.zip").write_bytes(b"zip")
    jobs = Jobs.open(tmp_path / "jobs.sqlite", tmp_path / "uploads")
    claimed = jobs.claim()
    jobs.close()
    assert claimed is not None and (claimed.id, claimed.notes) == ("j1", ())


def test_an_unknown_version_is_refused_without_touching_the_file(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.sqlite")
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES ('schema', '9');")  # fmt: skip
    db.close()
    with pytest.raises(GraderError, match="schema 9 is unknown"):
        open_database(tmp_path / "x.sqlite")
    assert _tables(tmp_path / "x.sqlite") == {"meta"}
    fresh = open_database(tmp_path / "y.sqlite")
    assert fresh.run == 1  # the first run of a new file
    fresh.close()


@pytest.mark.parametrize("first", ["batch", "service"])
def test_one_process_writes_into_a_store_at_a_time(tmp_path: Path, first: str) -> None:
    path = tmp_path / DATABASE
    held = Store.open(tmp_path) if first == "batch" else Jobs.open(path, tmp_path / "uploads")
    up = tmp_path / "up"
    try:
        for second in (
            f"from grader.store import Store; Store.open(Path({str(tmp_path)!r}))",
            "from grader.service.jobs import Jobs; "
            f"Jobs.open(Path({str(path)!r}), Path({str(up)!r}))",
        ):
            done = subprocess.run(
                [sys.executable, "-c", f"from pathlib import Path; {second}"],
                capture_output=True, text=True, cwd=ROOT, check=False, timeout=60,
            )  # fmt: skip
            assert done.returncode != 0
            assert f"another nngrader (a batch or a service) is writing into {path}" in (
                done.stderr
            )
    finally:
        held.close()
    Store.open(tmp_path).close()  # released with the first


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    code = (
        "import os, sys; from pathlib import Path; from grader.store import Store; "
        f"Store.open(Path({str(tmp_path)!r})); os.kill(os.getpid(), 9)"
    )
    env_root = {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env_root, check=False, timeout=60)
    assert done.returncode == -9
    Store.open(tmp_path).close()
