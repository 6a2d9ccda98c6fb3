"""Grading through the service, end to end: the bundled examples graded by worker processes
with ``--sandbox process`` (the project's own code), what each caller sees of the results, the
class views, a worker killed while grading, and a service restarted over a job left running."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.grader.service.conftest import (
    ALICE,
    BOB,
    COURSE,
    EXAMPLES,
    INSTRUCTOR,
    Served,
    submit,
    wait_state,
    zipped,
)

pytestmark = pytest.mark.slow
GRADING_SECONDS = 300.0
FINISHED = ("done", "failed")


def _texts(check: dict[str, Any]) -> list[str]:
    texts = [check["message"], check.get("output") or "", check.get("diagnosis") or ""]
    return [t for t in texts + [c["message"] for c in check.get("comparisons", [])] if t]


def hidden_texts(instructor: dict[str, Any]) -> list[str]:
    """The texts of the hidden checks the student view must withhold (messages, output,
    diagnoses, comparison messages: the worst element, both values), from the instructor's
    document; those a visible check shows too ("max abs err 0") are not theirs alone."""
    shown = {t for c in instructor["checks"] if c["visibility"] != "hidden" for t in _texts(c)}
    hidden = [t for c in instructor["checks"] if c["visibility"] == "hidden" for t in _texts(c)]
    return [t for t in hidden if t not in shown and len(t) > 12]


def test_students_get_their_grade_and_never_a_hidden_checks_details(
    served: Callable[..., Served], correct_zip: bytes, buggy_zip: bytes
) -> None:
    api = served(workers=True).http
    mine = submit(api, correct_zip, ALICE).json()
    bugs = submit(api, buggy_zip, BOB).json()
    anonymous = submit(api, buggy_zip).json()
    for job, who in [(mine, ALICE), (bugs, BOB), (anonymous, {})]:
        state = wait_state(api, job["status_url"], who, FINISHED, GRADING_SECONDS)
        assert state["state"] == "done", state
    status = api.get(mine["status_url"], headers=ALICE).json()
    assert status["score"] == status["max_score"] > 0 and status["attempts"] == 1
    buggy = api.get(bugs["status_url"], headers=BOB).json()
    assert 0 < buggy["score"] < buggy["max_score"]

    results = api.get(bugs["results_url"], headers=BOB)
    assert results.status_code == 200
    tests = results.json()["tests"]
    assert any(t["status"] == "failed" and "relu_backward" in t["output"] for t in tests)
    instructor = api.get(bugs["results_url"] + "?view=instructor", headers=INSTRUCTOR).json()
    assert instructor["format"].startswith("nngrader-instructor")
    secrets = hidden_texts(instructor)
    assert any(c["visibility"] == "hidden" and c["status"] == "failed"
               for c in instructor["checks"])  # fmt: skip
    assert secrets, "the bug should fail a hidden check with a message"
    report = api.get(bugs["report_url"], headers=BOB)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    anon_results = api.get(anonymous["results_url"]).text
    anon_report = api.get(anonymous["report_url"]).text
    for view in (results.text, report.text, anon_results, anon_report):
        assert [s for s in secrets if s in view] == []
    assert api.get(bugs["results_url"] + "&view=instructor").status_code == 404
    assert api.get(bugs["results_url"] + "?view=instructor", headers=BOB).status_code == 403
    assert api.get(bugs["results_url"], headers=ALICE).status_code == 404

    grades = api.get(f"/api/courses/{COURSE}/grades.csv", headers=INSTRUCTOR)
    assert grades.status_code == 200 and grades.headers["content-type"].startswith("text/csv")
    lines = grades.text.lstrip("\ufeff").strip().splitlines()
    # the course's anonymous self-check is in its gradebook too, under the file's name
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["alice", "bob", "hw"]
    index = api.get(f"/api/courses/{COURSE}/index.html", headers=INSTRUCTOR)
    assert index.status_code == 200 and "<html" in index.text.lower()
    assert api.get(f"/api/courses/{COURSE}/grades.csv", headers=ALICE).status_code == 403

    again = api.post(f"/api/jobs/{mine['job']}/regrade", headers=INSTRUCTOR)
    assert again.status_code == 202 and again.json()["state"] == "queued"
    state = wait_state(api, mine["status_url"], ALICE, FINISHED, GRADING_SECONDS)
    assert state["state"] == "done" and state["score"] == status["score"]


def test_a_class_export_becomes_one_job_per_student(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    api = served(workers=True).http
    export = io.BytesIO()
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("ada/assignment1.zip", correct_zip)  # a Moodle-like folder: the zip
        archive.writestr("ada/comments.txt", "see my notebook")  # is ada's, this is left out
        archive.writestr("bob.zip", zipped(EXAMPLES / "bug-relu-backward"))
        archive.writestr("cy.zip", b"PK\x03\x04 cut short")
    answer = api.post(
        f"/api/courses/{COURSE}/uploads",
        files={"file": ("export.zip", export.getvalue())},
        headers=INSTRUCTOR,
    )
    assert answer.status_code == 202, answer.text
    assert len(answer.json()) == 3
    for job in answer.json():
        wait_state(api, job["status_url"], INSTRUCTOR, FINISHED, GRADING_SECONDS)
    jobs = api.get(f"/api/courses/{COURSE}/jobs", headers=INSTRUCTOR).json()["jobs"]
    by_name = {j["name"]: j for j in jobs}
    assert set(by_name) == {"ada", "bob", "cy"}
    assert by_name["ada"]["score"] == by_name["ada"]["max_score"]
    assert by_name["cy"]["state"] == "failed" and "cy.zip" in by_name["cy"]["error"]
    assert api.get(answer.json()[0]["status_url"], headers=ALICE).status_code == 404
    # What intake left out of the export is in the student's result, as in a batch.
    url = f"/api/jobs/{by_name['ada']['job']}/results?view=instructor"
    ada = api.get(url, headers=INSTRUCTOR).json()
    assert "left out comments.txt: the uploaded assignment1.zip is the submission" in ada["notes"]


def test_a_killed_grading_is_tried_again_and_finalised_once(
    served: Callable[..., Served], correct_zip: bytes, tmp_path: Path
) -> None:
    service = served(workers=True)
    job = submit(service.http, correct_zip, ALICE).json()
    deadline = time.monotonic() + 60
    while job["job"] not in service.service.pool.running():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    os.kill(service.service.pool.running()[job["job"]], signal.SIGKILL)
    state = wait_state(service.http, job["status_url"], ALICE, FINISHED, GRADING_SECONDS)
    assert (state["state"], state["attempts"]) == ("done", 2)
    assert state["score"] == state["max_score"]
    with sqlite3.connect(tmp_path / "service.sqlite") as db:
        assert db.execute("SELECT attempt, finalised, reason FROM jobs").fetchone() == (
            2, 1, "its grading process was killed by SIGKILL"
        )  # fmt: skip


def test_a_job_left_running_by_a_dead_service_is_graded_at_the_next_start(
    served: Callable[..., Served], correct_zip: bytes, tmp_path: Path
) -> None:
    first = served()  # no workers: the job waits
    job = submit(first.http, correct_zip, ALICE).json()
    first.stop()
    with sqlite3.connect(tmp_path / "service.sqlite") as db:  # as a SIGKILLed service left it
        db.execute("UPDATE jobs SET state = 'running', attempt = 1, attempts = 1")
    second = served(workers=True)
    state = wait_state(second.http, job["status_url"], ALICE, FINISHED, GRADING_SECONDS)
    assert (state["state"], state["attempts"]) == ("done", 2)
    results = second.http.get(job["results_url"], headers=ALICE).json()
    assert json.dumps(results) and results["score"] == state["score"]
