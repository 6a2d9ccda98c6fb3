"""The service under load, and killed under it: 200 students upload at once (a thread and an
httpx client each, on loopback) to ``python -m grader serve`` with 2 workers; it is SIGKILLed
while jobs are queued and running, started again on the same ``--db``, and then every job is
graded, each stored exactly once, and each student sees their own report and nobody else's.

One run covers both: the uploads race the workers that already grade, and the kill lands in
the middle of the same 200 jobs (a second 200 would double the time, and prove less). Each
grading is cheap (the tiny spec: ``affine_forward`` only, a one-file upload): what is measured
is the service, and its floor is the spawned child each job gets (about a second)."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.grader.service.conftest import auth
from tests.grader.service.scenario import (
    TINY,
    ServiceProcess,
    students_config,
    tiny_spec,
    tiny_upload,
)

pytestmark = pytest.mark.slow
STUDENTS = 200
KILL_AFTER = 20
"""Jobs done before the SIGKILL (the rest queued, two running)."""
SECONDS = 600.0
"""The bound on the whole grading (it takes about 200 x 1 s / 2 workers)."""


def upload_all(url: str, tokens: dict[str, str], wrong: set[str]) -> dict[str, str]:
    """Every student's upload at once (a thread and a client each, released together by a
    barrier): student -> job id. Each must be taken (202)."""
    barrier = threading.Barrier(len(tokens))
    right, bad = tiny_upload(), tiny_upload(wrong=True)

    def one(name: str) -> tuple[str, str]:
        with httpx.Client(base_url=url, headers=auth(tokens[name]), timeout=120) as client:
            barrier.wait()
            answer = client.post(
                f"/api/assignments/{TINY}/submissions",
                files={"file": ("hw.zip", bad if name in wrong else right, "application/zip")},
            )
        assert answer.status_code == 202, (name, answer.status_code, answer.text)
        return name, str(answer.json()["job"])

    with ThreadPoolExecutor(len(tokens)) as pool:
        return dict(pool.map(one, tokens))


def states(db: Path) -> dict[str, int]:
    """How many jobs are in each state (read beside the service, as SQLite allows)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
    return {state: int(n) for state, n in rows}


def wait_for(db: Path, done: Callable[[dict[str, int]], bool], seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        found = states(db)
        if done(found):
            return found
        assert time.monotonic() < deadline, f"still {found} after {seconds:g} s"
        time.sleep(0.1)


def test_200_uploads_a_sigkill_and_a_restart_lose_nothing_and_finalise_once(
    tmp_path: Path, service_process: Callable[..., ServiceProcess]
) -> None:
    tiny_spec(tmp_path)
    config, tokens = students_config(tmp_path, STUDENTS)
    db = tmp_path / "jobs.sqlite"
    wrong = set(list(tokens)[::2])  # half the class gets affine_forward wrong
    first = service_process(config, db)

    start = time.monotonic()
    jobs = upload_all(first.url, tokens, wrong)
    uploaded = time.monotonic() - start
    assert len(set(jobs.values())) == STUDENTS

    at_kill = wait_for(db, lambda s: s.get("done", 0) >= KILL_AFTER and "running" in s, SECONDS)
    first.kill()
    killed = time.monotonic() - start
    assert at_kill.get("queued", 0) > 0 and at_kill["running"] > 0, at_kill
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        running = {r[0] for r in conn.execute("SELECT id FROM jobs WHERE state = 'running'")}
    assert running

    second = service_process(config, db)
    wait_for(db, lambda s: s.get("done", 0) + s.get("failed", 0) == STUDENTS, SECONDS)
    graded = time.monotonic() - start

    with sqlite3.connect(db) as conn:
        found = conn.execute(
            "SELECT id, student, state, finalised, attempt, attempts, reason FROM jobs"
        ).fetchall()
    rows = {r[0]: r[1:] for r in found}
    assert set(rows) == set(jobs.values())  # nothing lost, nothing made up
    assert {r[1:3] for r in rows.values()} == {("done", 1)}  # each finalised exactly once
    for job in running:  # given up by the killed service, graded again by the next one
        assert rows[job][3:] == (2, 2, "the service stopped while it was being graded"), job
    assert all(r[3] == 1 for j, r in rows.items() if j not in running and r[5] is None)

    with httpx.Client(base_url=second.url, timeout=60) as client:
        for name, job in jobs.items():
            results = client.get(f"/api/jobs/{job}/results", headers=auth(tokens[name]))
            assert results.status_code == 200, (name, results.text)
            doc = results.json()
            assert doc["extra_data"]["submission"] == name
            assert doc["score"] == (0 if name in wrong else 2), (name, doc["score"])
        names = list(jobs)
        for name, other in itertools.pairwise(names[:41]):  # a sample of others'
            for tail in ("", "/results", "/report"):
                theirs = client.get(f"/api/jobs/{jobs[other]}{tail}", headers=auth(tokens[name]))
                assert theirs.status_code == 404, (name, other, tail)
    print(
        f"\n{STUDENTS} uploads in {uploaded:.1f} s; SIGKILL at {killed:.1f} s "
        f"({at_kill}); all graded at {graded:.1f} s (2 workers, --sandbox process)"
    )
