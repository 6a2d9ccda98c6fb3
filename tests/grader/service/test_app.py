"""The API without graders (jobs stay queued): who sees which job, what uploads are refused and
how, the limits, and the published schema."""

from __future__ import annotations

import io
import socket
import sqlite3
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.grader.service.conftest import (
    ALICE,
    ASSIGNMENT,
    BOB,
    COURSE,
    INSTRUCTOR,
    Client,
    Served,
    auth,
    submit,
)


def rows(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "service.sqlite") as db:
        return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def uploads(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "service.sqlite.files" / "uploads").iterdir())


def test_a_student_sees_their_own_job_and_nobody_else_does(
    client: Client, correct_zip: bytes
) -> None:
    api = client()
    answer = submit(api, correct_zip, ALICE)
    assert answer.status_code == 202
    body = answer.json()
    job = body["job"]
    assert body["state"] == "queued" and "key=" not in body["status_url"]
    mine = api.get(body["status_url"], headers=ALICE)
    assert mine.status_code == 200
    assert mine.json()["student"] == "alice" and mine.json()["state"] == "queued"
    # bob, an anonymous caller, a wrong key: the job does not exist for them
    for headers, query in [(BOB, ""), ({}, ""), ({}, "?key=" + "0" * 64), (BOB, "?key=nope")]:
        for tail in ("", "/results", "/report"):
            seen = api.get(f"/api/jobs/{job}{tail}{query}", headers=headers)
            assert seen.status_code == 404, (headers, tail, query)
            assert seen.json() == {"detail": "no such job"}
    assert api.get("/api/jobs/doesnotexist", headers=ALICE).json() == {"detail": "no such job"}
    # the course token sees it, and the signed link opens it for anyone
    assert api.get(f"/api/jobs/{job}", headers=INSTRUCTOR).status_code == 200
    assert api.get(body["link"].replace("/jobs/", "/api/jobs/")).status_code == 200
    # not graded yet: no results
    assert api.get(f"/api/jobs/{job}/results", headers=ALICE).status_code == 409


def test_an_anonymous_submission_is_seen_only_through_its_signed_link(
    client: Client, correct_zip: bytes
) -> None:
    api = client()
    body = submit(api, correct_zip).json()
    assert "key=" in body["status_url"] and "key=" in body["link"]
    assert api.get(body["status_url"]).json()["student"] is None
    assert api.get(f"/api/jobs/{body['job']}").status_code == 404
    assert api.get(f"/api/jobs/{body['job']}", headers=ALICE).status_code == 404
    page = api.get(body["link"], follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == body["status_url"]


def test_an_unknown_token_is_refused_and_other_courses_tokens_are_not_students(
    client: Client, correct_zip: bytes
) -> None:
    api = client()
    assert submit(api, correct_zip, auth("forged")).status_code == 401
    assert api.get(f"/api/courses/{COURSE}/jobs", headers=ALICE).status_code == 403
    assert api.get(f"/api/courses/{COURSE}/jobs").status_code == 403
    assert api.get("/api/courses/other/jobs", headers=INSTRUCTOR).status_code == 404
    assert api.post("/api/assignments/nope/submissions", files={"file": ("a.py", b"x=1")}
                    ).status_code == 404  # fmt: skip
    # a spec file's path is never taken for an assignment
    assert api.post("/api/assignments/evil.toml/submissions", files={"file": ("a.py", b"x=1")}
                    ).status_code == 404  # fmt: skip


def test_a_broken_zip_is_refused_with_intake_s_message_and_leaves_nothing(
    client: Client, tmp_path: Path, correct_zip: bytes
) -> None:
    api = client()
    answer = submit(api, correct_zip[: len(correct_zip) // 2], ALICE)
    assert answer.status_code == 422
    assert "hw.zip" in answer.json()["detail"] and "zip" in answer.json()["detail"].lower()
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("notes.txt", "no code")
    answer = submit(api, empty.getvalue(), ALICE)
    assert answer.status_code == 422 and "no Python files" in answer.json()["detail"]
    answer = submit(api, b"MZ...", ALICE, name="virus.exe")
    assert answer.status_code == 422 and ".zip, .ipynb, .py" in answer.json()["detail"]
    assert rows(tmp_path) == 0 and uploads(tmp_path) == []


def test_a_lone_python_file_or_notebook_is_taken(client: Client, tmp_path: Path) -> None:
    api = client()
    answer = submit(api, b"def relu_forward(x):\n    return x\n", ALICE, name="layers.py")
    assert answer.status_code == 202
    stored = uploads(tmp_path)
    assert len(stored) == 1 and stored[0].endswith(".zip")  # kept as a zip of the file
    with zipfile.ZipFile(tmp_path / "service.sqlite.files" / "uploads" / stored[0]) as z:
        assert z.namelist() == ["layers.py"]


def test_an_oversized_upload_is_413_and_leaves_nothing(client: Client, tmp_path: Path) -> None:
    api = client(max_upload_mb=0.01)  # 10 KiB (+ 64 KiB for the framing)
    answer = submit(api, b"0" * 200_000, ALICE, name="big.zip")
    assert answer.status_code == 413 and "limit" in answer.json()["detail"]
    answer = submit(api, b"0" * 20_000, ALICE, name="big.zip")  # the file itself is over
    assert answer.status_code == 413
    assert rows(tmp_path) == 0 and uploads(tmp_path) == []


def test_past_the_hourly_limit_a_student_gets_429_with_retry_after(
    client: Client, correct_zip: bytes
) -> None:
    api = client(submissions_per_hour=2)
    assert [submit(api, correct_zip, ALICE).status_code for _ in range(2)] == [202, 202]
    refused = submit(api, correct_zip, ALICE)
    assert refused.status_code == 429 and "2 submissions per hour" in refused.json()["detail"]
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert submit(api, correct_zip, BOB).status_code == 202  # bob has his own hour


def test_an_upload_whose_body_stops_arriving_is_408_and_leaves_nothing(
    served: Callable[..., Served], tmp_path: Path, correct_zip: bytes
) -> None:
    service = served(request_seconds=1)
    host, port = service.sock.getsockname()
    boundary = "nngrader-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="hw.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(
            f"POST /api/assignments/{ASSIGNMENT}/submissions HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {ALICE['Authorization']}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + len(correct_zip) + 100}\r\n\r\n".encode()
            + head + correct_zip[:1000]
        )  # fmt: skip
        started = time.monotonic()
        received = b""
        while chunk := conn.recv(65536):  # then nothing more is sent; the service closes
            received += chunk
        waited = time.monotonic() - started
    answer = received.decode("latin-1")
    assert answer.startswith("HTTP/1.1 408 ") and "did not arrive within 1 s" in answer
    assert waited < 20  # not held until the client gives up
    assert rows(tmp_path) == 0 and uploads(tmp_path) == []
    # A whole upload in time is taken, and the service still answers after the 408.
    assert submit(service.http, correct_zip, ALICE).status_code == 202


def _closed_after(conn: socket.socket) -> float:
    """Seconds until the service closes ``conn`` (reading and dropping what it sends)."""
    started = time.monotonic()
    while conn.recv(65536):
        pass
    return time.monotonic() - started


def test_a_request_whose_headers_stop_arriving_is_cut_off(
    served: Callable[..., Served],
) -> None:
    service = served(request_seconds=1)
    address = service.sock.getsockname()
    with socket.create_connection(address, timeout=30) as silent:
        assert _closed_after(silent) < 20  # connected, never said a word
    with socket.create_connection(address, timeout=30) as slow:
        slow.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and then nothing
        assert _closed_after(slow) < 20
    with socket.create_connection(address, timeout=30) as kept:  # keep-alive: each request timed
        kept.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(65536).startswith(b"HTTP/1.1 200 ")
        kept.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert _closed_after(kept) < 20
    assert service.http.get("/openapi.json").status_code == 200  # the service goes on


def test_a_full_queue_gives_429_with_retry_after(client: Client, correct_zip: bytes) -> None:
    api = client(max_queue=1, retry_after=42)
    assert submit(api, correct_zip, ALICE).status_code == 202
    refused = submit(api, correct_zip, BOB)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "42"
    assert "queue is full" in refused.json()["detail"]


def test_the_course_lists_its_jobs_and_an_unfinished_job_cannot_be_regraded(
    client: Client, correct_zip: bytes
) -> None:
    api = client()
    job = submit(api, correct_zip, ALICE).json()["job"]
    listed = api.get(f"/api/courses/{COURSE}/jobs", headers=INSTRUCTOR).json()["jobs"]
    assert [(j["job"], j["student"], j["assignment"]) for j in listed] == [
        (job, "alice", ASSIGNMENT)
    ]
    assert api.post(f"/api/jobs/{job}/regrade", headers=ALICE).status_code == 403
    assert api.post(f"/api/jobs/{job}/regrade", headers=INSTRUCTOR).status_code == 409


def test_the_openapi_schema_names_every_route_and_its_refusals(client: Client) -> None:
    schema = client().get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {
        "/api/assignments/{assignment}/submissions",
        "/api/jobs/{job}",
        "/api/jobs/{job}/results",
        "/api/jobs/{job}/report",
        "/jobs/{job}",
        "/api/courses/{course}/uploads",
        "/api/courses/{course}/jobs",
        "/api/courses/{course}/grades.csv",
        "/api/courses/{course}/index.html",
        "/api/courses/{course}/{job}/report.html",
        "/api/courses/{course}/{job}/report-instructor.html",
        "/api/jobs/{job}/regrade",
    }
    post = paths["/api/assignments/{assignment}/submissions"]["post"]
    assert {"202", "413", "422", "429"} <= set(post["responses"])
    assert post["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Submitted"
    }
    assert "409" in paths["/api/jobs/{job}/results"]["get"]["responses"]
