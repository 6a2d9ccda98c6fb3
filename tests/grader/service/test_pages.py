"""The service's web pages, through HTTP as a browser sends it (forms posted as multipart with an
``Origin``, ``Accept: text/html``): the upload form, the job's page from queued to its score, the
instructor's pages behind the course token, and what every page is sent with."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable

import httpx
import pytest

from grader.service.pages import COOKIE, POLICY
from tests.grader.service.conftest import (
    ALICE_TOKEN,
    ASSIGNMENT,
    BOB_TOKEN,
    COURSE,
    COURSE_TOKEN,
    Served,
)

GRADING_SECONDS = 300.0
HTML = {"Accept": "text/html,application/xhtml+xml"}
"""What a browser asks for when it opens a page."""


def browser_headers(http: httpx.Client) -> dict[str, str]:
    """A form's POST from the service's own page."""
    return {**HTML, "Origin": str(http.base_url).rstrip("/")}


def post_upload(
    http: httpx.Client, data: bytes, *, token: str = "", name: str = "hw.zip", **headers: str
) -> httpx.Response:
    return http.post(
        "/submit",
        data={"assignment": ASSIGNMENT, "token": token},
        files={"file": (name, data, "application/zip")},
        headers={**browser_headers(http), **headers},
    )


def sign_in(http: httpx.Client, token: str = COURSE_TOKEN) -> httpx.Response:
    return http.post(
        "/instructor", data={"course": COURSE, "token": token}, headers=browser_headers(http)
    )


def jobs_count(served: Served) -> int:
    return len(served.service.jobs.of_course(COURSE))


def test_the_upload_form_renders_with_its_policy(served: Callable[..., Served]) -> None:
    http = served().http
    page = http.get("/", headers=HTML)
    assert page.status_code == 200 and page.headers["content-security-policy"] == POLICY
    assert "script-src" not in POLICY and "default-src 'none'" in POLICY
    assert page.headers["referrer-policy"] == "same-origin"
    text = page.text
    assert '<form class="panel" id="submit" method="post" action="/submit"' in text
    assert 'type="file" name="file"' in text and f'<option value="{ASSIGNMENT}"' in text
    assert "<script" not in text and "style=" not in text  # the policy would refuse both
    css = http.get("/static/pages.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--accent" in css.text and ".panel" in css.text  # the report's look, and the forms'


def test_a_form_from_another_site_is_refused(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    service = served()
    http = service.http
    for origin in ({"Origin": "https://evil.example"}, {"Origin": "null"}):
        refused = post_upload(http, correct_zip, **origin)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-security-policy"] == POLICY
    bare = http.post("/submit", data={"assignment": ASSIGNMENT},
                     files={"file": ("hw.zip", correct_zip)})  # fmt: skip
    assert bare.status_code == 403  # no Origin, no Referer: not a page of ours
    assert jobs_count(service) == 0
    assert sign_in(http).status_code == 303
    forged = http.post(
        f"/instructor/{COURSE}/uploads",
        files={"file": ("export.zip", correct_zip)},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and jobs_count(service) == 0


def test_a_refused_upload_shows_the_form_again_with_the_reason(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    service = served()
    http = service.http
    broken = post_upload(http, correct_zip[: len(correct_zip) // 2])
    assert broken.status_code == 422 and "hw.zip" in broken.text
    assert 'id="submit"' in broken.text  # the form again
    exe = post_upload(http, b"MZ", name="virus.exe")
    assert exe.status_code == 422 and ".zip, .ipynb, .py" in exe.text
    forged = post_upload(http, correct_zip, token="forged")  # noqa: S106 - a test token
    assert forged.status_code == 401 and "unknown student token" in forged.text
    assert jobs_count(service) == 0


def test_a_student_with_a_token_is_sent_to_the_signed_link_of_their_own_job(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    service = served()
    http = service.http
    answer = post_upload(http, correct_zip, token=ALICE_TOKEN)
    assert answer.status_code == 303, answer.text
    job = re.fullmatch(r"/jobs/(\w+)\?key=[0-9a-f]{64}", answer.headers["location"])
    assert job is not None
    assert service.service.jobs.get(job[1]).student == "alice"
    page = http.get(answer.headers["location"], headers=HTML)
    assert page.status_code == 200 and "queued" in page.text
    assert '<meta http-equiv="refresh" content="1">' in page.text
    # the page without its key, or with another job's: no such job, as a page
    for url in (f"/jobs/{job[1]}", f"/jobs/{job[1]}?key={'0' * 64}"):
        missing = http.get(url, headers=HTML)
        assert missing.status_code == 404 and "no such job" in missing.text
        assert missing.headers["content-security-policy"] == POLICY
    # bob's token opens only bob's jobs
    bob = http.get(f"/jobs/{job[1]}", headers={**HTML, "Authorization": f"Bearer {BOB_TOKEN}"})
    assert bob.status_code == 404


def test_instructor_pages_need_the_course_token(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    service = served()
    http = service.http
    for tail in ("", "/progress", "/index.html", "/grades.csv"):
        away = http.get(f"/instructor/{COURSE}{tail}", headers=HTML)
        assert away.status_code == 303, tail
        assert away.headers["location"] == f"/instructor?course={COURSE}"
    login = http.get("/instructor", headers=HTML)
    assert login.status_code == 200 and 'name="token"' in login.text
    assert login.headers["content-security-policy"] == POLICY
    for wrong in ("nope", ALICE_TOKEN):  # a student's token is not the course's
        refused = sign_in(http, wrong)
        assert refused.status_code == 403 and "not the course" in refused.text
        assert COOKIE not in http.cookies
    http.cookies.set(COOKIE, f"{int(time.time()) + 99}.{'0' * 64}", path=f"/instructor/{COURSE}")
    assert http.get(f"/instructor/{COURSE}", headers=HTML).status_code == 303  # forged
    http.cookies.clear()
    signed = sign_in(http)
    assert signed.status_code == 303 and signed.headers["location"] == f"/instructor/{COURSE}"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Path=/instructor/{COURSE}" in cookie and COURSE_TOKEN not in cookie
    page = http.get(f"/instructor/{COURSE}", headers=HTML)
    assert page.status_code == 200 and page.headers["content-security-policy"] == POLICY
    assert f"/instructor/{COURSE}/grades.csv" in page.text
    assert f"/instructor/{COURSE}/index.html" in page.text
    out = http.post(f"/instructor/{COURSE}/logout", headers=browser_headers(http))
    assert out.status_code == 303 and COOKIE not in http.cookies
    assert http.get(f"/instructor/{COURSE}", headers=HTML).status_code == 303


def test_the_class_upload_queues_one_job_per_student(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    service = served()
    http = service.http
    export = io.BytesIO()
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("ada.zip", correct_zip)
        archive.writestr("cy.zip", b"PK\x03\x04 cut short")
    sign_in(http)
    answer = http.post(
        f"/instructor/{COURSE}/uploads",
        files={"file": ("export.zip", export.getvalue(), "application/zip")},
        headers=browser_headers(http),
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/instructor/{COURSE}?added=2"
    assert "2 submissions queued" in http.get(answer.headers["location"], headers=HTML).text
    progress = http.get(f"/instructor/{COURSE}/progress", headers=HTML)
    assert progress.status_code == 200
    assert "1 queued" in progress.text and "1 failed" in progress.text
    assert '<meta http-equiv="refresh" content="2">' in progress.text  # while one is queued
    assert "ada" in progress.text and "cy.zip" in progress.text  # the failed one's reason
    not_zip = http.post(
        f"/instructor/{COURSE}/uploads",
        files={"file": ("export.tar", b"x")},
        headers=browser_headers(http),
    )
    assert not_zip.status_code == 422 and "expected a .zip" in not_zip.text
    assert jobs_count(service) == 2


@pytest.mark.slow
def test_an_upload_through_the_page_is_followed_to_its_score(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    service = served(workers=True)
    http = service.http
    answer = post_upload(http, correct_zip)
    assert answer.status_code == 303, answer.text
    link = answer.headers["location"]
    job = link.split("?")[0].rsplit("/", 1)[1]
    first = http.get(link, headers=HTML)
    assert first.status_code == 200 and first.headers["content-security-policy"] == POLICY
    assert re.search(r'<span class="badge state (queued|running)">', first.text)
    deadline = time.monotonic() + GRADING_SECONDS
    page = first
    while 'http-equiv="refresh"' in page.text:  # as the browser would, every second
        assert time.monotonic() < deadline, "not graded in time"
        time.sleep(1)
        page = http.get(link, headers=HTML)
    assert '<span class="badge state done">' in page.text, page.text
    score = re.search(r"<strong>([\d.]+) / ([\d.]+)</strong> points", page.text)
    assert score is not None and score[1] == score[2] and float(score[1]) > 0
    report = re.search(r'<iframe class="report" src="([^"]+)"', page.text)
    assert report is not None
    shown = http.get(report[1].replace("&amp;", "&"))
    assert shown.status_code == 200 and f"{score[1]} / {score[2]}" in shown.text
    # the instructor's pages see it: counted done, its instructor report, the class views
    sign_in(http)
    progress = http.get(f"/instructor/{COURSE}/progress", headers=HTML).text
    assert "1 done" in progress and 'http-equiv="refresh"' not in progress
    mine = http.get(f"/instructor/{COURSE}/jobs/{job}", headers=HTML)
    assert mine.status_code == 200 and "sha256-" in mine.headers["content-security-policy"]
    index = http.get(f"/instructor/{COURSE}/index.html", headers=HTML)
    assert index.status_code == 200 and "1 submission" in index.text
    grades = http.get(f"/instructor/{COURSE}/grades.csv")
    assert grades.status_code == 200 and "attachment" in grades.headers["content-disposition"]
    assert grades.text.startswith("\ufeff")
