"""The class overview inside the service: every link of ``index.html`` (each row's student and
instructor report, the errored submissions') resolves beside it, for the API (the course token)
and the instructor's pages (the sign-in cookie). No grading: stored results are hand-made
documents (``tests.grader.report.factories``), finalised by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin

import httpx

from grader.report.instructor import to_instructor
from grader.service.grading import failure
from grader.service.jobs import NewJob
from tests.grader.report.factories import SECRET, check, result, secret_check
from tests.grader.service.conftest import (
    ALICE,
    ASSIGNMENT,
    BOB,
    COURSE,
    INSTRUCTOR,
    Served,
    submit,
)
from tests.grader.service.test_pages import HTML, sign_in

DOCS = {
    "alice": to_instructor(result(check("affine_forward", status="passed"), name="alice")),
    "bob": to_instructor(result(secret_check("relu_backward", "hidden"), name="bob")),
}
HREF = re.compile(r'href="([^"#][^"]*)"')


def graded(live: Served, correct_zip: bytes) -> list[str]:
    """Alice's and bob's jobs finalised with hand-made documents, and one failed at intake:
    their ids."""
    jobs = live.service.jobs
    ids = []
    for who, name in [(ALICE, "alice"), (BOB, "bob")]:
        ids.append(submit(live.http, correct_zip, who).json()["job"])
        claimed = jobs.claim()
        assert claimed is not None and claimed.id == ids[-1]
        assert jobs.finalise(claimed.id, claimed.attempt, DOCS[name], failed=False)
    broken = NewJob(COURSE, ASSIGNMENT, "carol", None, f"{COURSE}:", None,
                    failed=failure("carol", ASSIGNMENT, "could not be taken in"))  # fmt: skip
    ids += jobs.add([broken])
    return ids


def links(http: httpx.Client, url: str, headers: dict[str, str]) -> list[str]:
    """The absolute URLs the page at ``url`` links to."""
    page = http.get(url, headers=headers)
    assert page.status_code == 200, page.text
    return [urljoin(str(page.url), href.replace("&amp;", "&")) for href in HREF.findall(page.text)]


def expected(base: str, ids: list[str]) -> set[str]:
    pages = ("report.html", "report-instructor.html")
    return {f"{base}/{job}/{page}" for job in ids for page in pages}


def test_every_link_of_the_apis_class_overview_resolves_with_the_course_token(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    live = served()
    ids = graded(live, correct_zip)
    base = f"{str(live.http.base_url).rstrip('/')}/api/courses/{COURSE}"
    found = links(live.http, f"/api/courses/{COURSE}/index.html", INSTRUCTOR)
    assert set(found) == expected(base, ids)
    for url in found:
        answer = live.http.get(url, headers=INSTRUCTOR)
        assert answer.status_code == 200, (url, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html")
        assert live.http.get(url, headers=ALICE).status_code == 403  # a student's token
    student = live.http.get(f"{base}/{ids[1]}/report.html", headers=INSTRUCTOR).text
    instructor = live.http.get(f"{base}/{ids[1]}/report-instructor.html", headers=INSTRUCTOR).text
    assert SECRET in instructor and SECRET not in student  # the student's view, as its name says
    assert live.http.get(f"{base}/not-a-job/report.html", headers=INSTRUCTOR).status_code == 404


def test_every_link_of_the_instructors_class_overview_page_resolves_signed_in(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    live = served()
    ids = graded(live, correct_zip)
    http = live.http
    assert sign_in(http).status_code == 303
    base = f"{str(http.base_url).rstrip('/')}/instructor/{COURSE}"
    found = links(http, f"/instructor/{COURSE}/index.html", HTML)
    assert set(found) == expected(base, ids)
    for url in found:
        answer = http.get(url, headers=HTML)
        assert answer.status_code == 200, (url, answer.text[:300])
        assert "content-security-policy" in answer.headers
    # The instructor's job page is the same report as the overview's instructor link.
    same = http.get(f"/instructor/{COURSE}/jobs/{ids[0]}", headers=HTML)
    assert same.text == http.get(f"{base}/{ids[0]}/report-instructor.html", headers=HTML).text
    http.cookies.clear()
    signed_out = http.get(found[0], headers=HTML, follow_redirects=False)
    assert signed_out.status_code == 303
