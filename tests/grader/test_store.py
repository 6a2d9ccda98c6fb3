"""The results store (``grader.store``) and what decides that a submission changed
(``grader.fingerprint``): states, attempts, resume decisions, a result stored once."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader import fingerprint
from grader.errors import GraderError
from grader.executors.job import Settings
from grader.intake import Submission
from grader.store import DATABASE, MAX_ATTEMPTS, Key, Store

ROOT = Path(__file__).resolve().parents[2]
ADA, BOB = Key("ada", "ada"), Key("bob", "bob")


def doc(name: str, score: float = 1.0) -> dict[str, Any]:
    """A stand-in for an instructor.json document (the store keeps any JSON object)."""
    return {"name": name, "score": score, "seconds": 0.5}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path)
    yield opened
    opened.close()


def test_a_submission_goes_queued_running_done_and_is_finalised_once(store: Store) -> None:
    assert store.plan([(ADA, "c1"), (BOB, "c1")]) == [True, True]
    assert [(r.key, r.state, r.attempts) for r in store.rows()] == [
        (ADA, "queued", 0),
        (BOB, "queued", 0),
    ]
    assert store.start(ADA) == 1
    assert store.row(ADA).state == "running"  # type: ignore[union-attr]
    assert store.finalise(ADA, "c1", doc("ada"), failed=False)
    assert not store.finalise(ADA, "c1", doc("ada", 0.0), failed=False)  # a second result
    row = store.row(ADA)
    assert row is not None
    assert (row.state, row.attempts, row.finalised, row.run) == ("done", 1, 1, store.run)
    assert row.result == doc("ada") and row.files is None  # not rendered yet
    store.rendered(ADA, ["ada/results.json"])
    assert store.row(ADA).files == ("ada/results.json",)  # type: ignore[union-attr]


def test_a_result_for_other_content_is_refused(store: Store) -> None:
    store.plan([(ADA, "c1")])
    store.start(ADA)
    assert not store.finalise(ADA, "c0", doc("ada"), failed=False)
    assert store.row(ADA).state == "running"  # type: ignore[union-attr]


def test_resume_keeps_what_is_finished_and_grades_what_changed(tmp_path: Path) -> None:
    with Store.open(tmp_path) as first:
        first.plan([(ADA, "c1"), (BOB, "c1")])
        first.start(ADA)
        first.finalise(ADA, "c1", doc("ada"), failed=False)
    with Store.open(tmp_path) as second:
        assert second.run == first.run + 1
        assert second.plan([(ADA, "c1"), (BOB, "c1")]) == [False, True]  # bob never finished
        assert second.plan([(ADA, "c2"), (BOB, "c1")]) == [True, True]  # ada's files changed
        row = second.row(ADA)
        assert row is not None
        assert (row.state, row.attempts, row.finalised, row.result) == ("queued", 0, 0, None)
        second.start(ADA)
        assert second.finalise(ADA, "c2", doc("ada", 2.0), failed=False)
        assert second.plan([(ADA, "c2")]) == [False]
        assert second.plan([(ADA, "c2")], regrade=True) == [True]


def test_a_failed_submission_is_finished_for_its_content(store: Store) -> None:
    store.plan([(ADA, "c1")])
    store.start(ADA)
    assert store.finalise(ADA, "c1", doc("ada", 0.0), failed=True)
    assert store.plan([(ADA, "c1")]) == [False]
    assert store.plan([(ADA, "c2")]) == [True]


def test_a_crash_counts_an_attempt_and_the_second_leaves_none(store: Store) -> None:
    store.plan([(ADA, "c1")])
    store.start(ADA)
    assert store.crashed(ADA, "killed by SIGKILL")  # one attempt left
    row = store.row(ADA)
    assert row is not None and (row.state, row.attempts, row.reason) == (
        "queued", 1, "killed by SIGKILL",
    )  # fmt: skip
    store.start(ADA)
    assert not store.crashed(ADA, "killed by SIGKILL")
    assert store.row(ADA).attempts == MAX_ATTEMPTS == 2  # type: ignore[union-attr]
    assert store.finalise(ADA, "c1", doc("ada", 0.0), failed=True)
    assert store.row(ADA).finalised == 1  # type: ignore[union-attr]


def test_an_interrupted_grading_gives_its_attempt_back(store: Store) -> None:
    store.plan([(ADA, "c1"), (BOB, "c1")])
    store.start(ADA)
    store.start(BOB)
    store.finalise(BOB, "c1", doc("bob"), failed=False)
    store.release([ADA, BOB])
    assert [(r.key, r.state, r.attempts) for r in store.rows()] == [
        (ADA, "queued", 0),
        (BOB, "done", 1),  # finished: not touched
    ]


def test_what_a_dead_run_left_running_is_queued_again_with_the_attempt_counted(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path) as first:
        first.plan([(ADA, "c1"), (BOB, "c1")])
        first.start(ADA)  # and the run dies: nothing more is written
    with Store.open(tmp_path) as second:
        assert second.requeue_dead() == 1
        row = second.row(ADA)
        assert row is not None and (row.state, row.attempts) == ("queued", 1)
        assert "the batch stopped while it was being graded" in (row.reason or "")
        assert second.plan([(ADA, "c1"), (BOB, "c1")]) == [True, True]
        assert second.row(ADA).attempts == 1  # type: ignore[union-attr]  # kept by plan


def test_names_that_are_not_utf8_are_keys_too(store: Store) -> None:
    odd = Key("caf\udce9", "caf_-1a2b3c4d")  # the byte 0xe9, as os.fsdecode gives it
    store.plan([(odd, "c1")])
    assert [r.key for r in store.rows()] == [odd]


def test_a_folder_taken_by_another_name_drops_the_old_row(store: Store) -> None:
    store.plan([(Key("Sub", "Sub"), "c1"), (Key("zed", "zed-1"), "c1")])
    store.plan([(Key("sub", "sub"), "c1"), (Key("zed", "zed-2"), "c1")])
    assert sorted(r.key for r in store.rows()) == [Key("sub", "sub"), Key("zed", "zed-2")]


def test_the_store_is_sqlite_in_wal_mode_in_a_hidden_file(store: Store, tmp_path: Path) -> None:
    assert DATABASE.startswith(".")
    db = sqlite3.connect(tmp_path / DATABASE)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} >= {
            "meta", "runs", "submissions",
        }  # fmt: skip
    finally:
        db.close()


def test_a_second_run_into_the_same_folder_is_refused(store: Store, tmp_path: Path) -> None:
    code = (
        f"from grader.store import Store; Store.open(__import__('pathlib').Path({str(tmp_path)!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode != 0 and "another nngrader (a batch or a service)" in done.stderr


def test_a_store_that_cannot_be_created_is_a_setup_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(GraderError, match="cannot create the results store"):
        Store.open(tmp_path / "file")


# -- what decides that a submission changed ------------------------------------------------------


def _submission(root: Path, name: str = "ada") -> Submission:
    return Submission(name, root, f"/in/{name}")


def test_the_hash_follows_the_files_not_the_name_or_the_place(tmp_path: Path) -> None:
    (tmp_path / "a" / "cs231n").mkdir(parents=True)
    (tmp_path / "a" / "cs231n" / "layers.py").write_text("x = 1\n")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    digest = fingerprint.submission_digest
    same = digest(_submission(tmp_path / "a"))
    assert digest(_submission(tmp_path / "b", "bob")) == same  # moved, renamed: the same files
    (tmp_path / "b" / "cs231n" / "layers.py").write_text("x = 2\n")
    assert digest(_submission(tmp_path / "b")) != same
    (tmp_path / "b" / "cs231n" / "layers.py").write_text("x = 1\n")
    (tmp_path / "b" / "cs231n" / "extra.py").write_text("")
    assert digest(_submission(tmp_path / "b")) != same  # a file more
    broken = Submission("ada", None, "/in/ada.zip", "the zip file is broken")
    assert digest(broken) != digest(replace(broken, error="another reason"))


def test_the_hash_follows_what_grades_the_submission(tmp_path: Path) -> None:
    from grader.spec.registry import available_specs, get_spec

    specs = tuple(available_specs().values())
    base = Settings(get_spec("cs231n-2021"), "process", {"check_seconds": 5.0})
    digest = fingerprint.settings_digest(base, specs)
    assert fingerprint.settings_digest(replace(base), specs) == digest
    changed = [
        replace(base, limits={"check_seconds": 6.0}),
        replace(base, isolation="bwrap"),
        replace(base, spec=get_spec("cs231n-2021@2025")),
        replace(base, spec=None),
        replace(base, data=tmp_path),
    ]
    assert len({fingerprint.settings_digest(s, specs) for s in changed} - {digest}) == len(changed)
    sub = _submission(tmp_path)
    assert fingerprint.content(digest, sub) != fingerprint.content("other settings", sub)
