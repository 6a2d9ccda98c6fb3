"""The service's web pages: server-rendered HTML (jinja2, ``grader/service/templates/``), no
script at all. A page that follows work in progress reloads itself (``<meta http-equiv=
"refresh">``), the simplest polling there is, and the only one a policy of ``script-src 'none'``
allows.

Students: ``/`` (the upload form, posted to ``/submit``), then ``/jobs/{id}?key=`` (the job's state
until graded, then its score and the student report). The form always leads to the job's signed
link, with a student token too: the page needs nothing else to show the job again.

Instructors: ``/instructor`` (sign in with the course token), ``/instructor/{course}`` (upload a
class export, the jobs and their progress, the class overview, the gradebook). Signing in sets a
cookie for that course's pages only (``Path=/instructor/{course}``, HttpOnly, SameSite=Strict)
holding no token, only an expiry and an HMAC of the course, the token's stored hash and the
expiry: changing the token in the configuration signs everyone out.

Uploads go through ``grader.service.submit``, as the API's do, and what a job shows is what the
API shows its caller (``auth.may_see``; students get the student view only). A form posted from
another site is refused: see ``_same_site``. Every page is sent with a Content-Security-Policy
header; a refusal is a page too (``_PageRoute``).
"""

from __future__ import annotations

import functools
import hmac
import re
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Cookie, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from grader.report.instructor import from_instructor
from grader.report.student_view import student_view
from grader.service.auth import ANONYMOUS, Caller, identify, sign
from grader.service.config import Course
from grader.service.context import CallerDep, Service, ServiceDep
from grader.service.courses_api import course_result
from grader.service.jobs import Job
from grader.service.jobs_api import KeyQuery, job_page, visible
from grader.service.submit import take_class_export, take_submission
from grader.service.views import class_csv, class_html, instructor_html, student_html
from grader.spec.registry import available_specs

__all__ = ["POLICY", "router"]

POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
"""Every page's Content-Security-Policy: its stylesheet, frames and forms from this service, no
script from anywhere (``frame-ancestors 'self'``: the course page frames its job list)."""
COOKIE = "nngrader_instructor"
SESSION_HOURS = 12
REFRESH_SECONDS = 1
UNFINISHED = ("queued", "running")
_META_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


class _PageRoute(APIRoute):
    """A route whose refusals (``HTTPException``, from the route or its dependencies, the
    body limit's 413 included) are pages, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                return _page("page.html", exc.status_code, error=exc.detail, headers=exc.headers)

        return page


router = APIRouter(route_class=_PageRoute, include_in_schema=False)


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))


@functools.cache
def _environment() -> Environment:
    env = Environment(
        # The report's templates second: its stylesheet is the pages' too.
        loader=ChoiceLoader(
            [PackageLoader("grader.service", "templates"), PackageLoader("grader.report")]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(points=_points, when=_when)
    return env


def _headers(policy: str = POLICY) -> dict[str, str]:
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on a form's
    # POST, and _same_site could no longer tell our forms from anyone's. A job's key stays here.
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def _page(
    template: str, status_code: int = 200, headers: Mapping[str, str] | None = None, **data: Any
) -> HTMLResponse:
    data = {"error": None, "refresh": None, **data}
    text = _environment().get_template(template).render(**data)
    return HTMLResponse(text, status_code, headers={**_headers(), **(headers or {})})


def _document(html: str) -> HTMLResponse:
    """A report made by ``grader.report.html``, its own policy (a meta tag) sent as the header
    too: a header stricter than the report's would refuse its inline, hashed style."""
    found = _META_POLICY.search(html)
    policy = found.group(1).replace("&#39;", "'") if found else "default-src 'none'"
    return HTMLResponse(html, headers=_headers(policy))


def _same_site(request: Request) -> None:
    """Refuse a form posted from another site (CSRF).

    A browser names the page a POST comes from in ``Origin`` (or, older ones, ``Referer``); it
    must be this service's own host. The instructor's cookie is SameSite=Strict besides, so a
    forged POST would arrive without it; and a student's form holds nothing a forger knows.

    Raises:
        HTTPException: 403 from elsewhere, or from nowhere said.
    """
    sent = request.headers.get("origin") or request.headers.get("referer") or ""
    host = request.headers.get("host")
    if not host or urlsplit(sent).netloc != host:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this form was not sent from this site")


@router.get("/static/pages.css")
def stylesheet() -> Response:
    """The report's stylesheet and the forms' (``style-src 'self'``: no inline style here)."""
    env = _environment()
    text = env.get_template("report.css").render() + "\n" + env.get_template("pages.css").render()
    return Response(text, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


# -- students ------------------------------------------------------------------------------------


def _assignments(service: Service) -> list[dict[str, str]]:
    """The upload form's choices: every configured course's assignment, else the bundled ones
    (a service without courses takes self-checks of any)."""
    courses = service.settings.config.courses.values()
    if not courses:
        return [{"id": a, "label": a} for a in available_specs()]
    by_assignment: dict[str, list[str]] = {}
    for course in courses:
        by_assignment.setdefault(course.assignment, []).append(course.id)
    return [{"id": a, "label": f"{a} ({', '.join(c)})"} for a, c in by_assignment.items()]


def _upload_form(service: Service, status_code: int = 200, **data: Any) -> HTMLResponse:
    data = {"chosen": None, **data}
    return _page("upload.html", status_code, assignments=_assignments(service), **data)


@router.get("/")
def upload_page(service: ServiceDep) -> HTMLResponse:
    """The upload form."""
    return _upload_form(service)


@router.post("/submit")
def upload_submit(
    request: Request,
    service: ServiceDep,
    assignment: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The form's upload, taken as the API takes one; then the job's page (its signed link)."""
    _same_site(request)
    caller = identify(service.tokens, f"Bearer {token}") if token.strip() else ANONYMOUS
    try:
        if caller is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown student token")
        if file is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "choose a file to submit")
        host = request.client.host if request.client else "unknown"
        job = take_submission(service, caller, assignment, file, host)
    except HTTPException as exc:
        # The form again, with the reason and the assignment chosen (a file cannot be kept).
        return _upload_form(service, exc.status_code, error=exc.detail, chosen=assignment,
                            headers=exc.headers)  # fmt: skip
    link = f"/jobs/{job}?key={sign(service.secret, job)}"
    return RedirectResponse(link, status.HTTP_303_SEE_OTHER)


def _student_score(service: Service, job: Job) -> tuple[float, float] | None:
    """The score the student report shows (the checks shown to the student only: a withheld
    check's result is not told by the total either), once graded."""
    doc = service.jobs.result(job.id) if job.state not in UNFINISHED else None
    if doc is None:
        return None
    view = student_view(from_instructor(doc))
    return view.score, view.max_score


@router.get("/jobs/{job}")
def job_status_page(
    job: str, request: Request, service: ServiceDep, caller: CallerDep, key: KeyQuery = None
) -> Response:
    """The job's page for a browser; other clients keep the API's redirect (``jobs_api.job_page``,
    which this route, included first, stands in front of)."""
    if "text/html" not in request.headers.get("accept", ""):
        try:
            return RedirectResponse(job_page(job, service, caller, key), 307)
        except HTTPException as exc:  # the API's refusal, as the API gives it
            return JSONResponse({"detail": exc.detail}, exc.status_code)
    found = visible(service, caller, job, key)
    query = f"?key={quote(key)}" if key else ""
    return _page(
        "job.html",
        job=found,
        score=_student_score(service, found),
        refresh=REFRESH_SECONDS if found.state in UNFINISHED else None,
        report=f"/api/jobs/{job}/report{query}",
        results=f"/api/jobs/{job}/results{query}",
    )


# -- instructors ---------------------------------------------------------------------------------


def _session_mac(service: Service, course: Course, expires: int) -> str:
    # The token's stored hash is in it: a new token in the configuration ends every session.
    return sign(service.secret, f"instructor\n{course.id}\n{course.token}\n{expires}")


def _session(service: Service, course: Course) -> str:
    expires = int(time.time()) + SESSION_HOURS * 3600
    return f"{expires}.{_session_mac(service, course, expires)}"


def _signed_in(service: Service, course: Course, cookie: str | None) -> bool:
    expires, _, mac = (cookie or "").partition(".")
    if course.token is None or not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(_session_mac(service, course, int(expires)), mac)


CookieDep = Annotated[str | None, Cookie(alias=COOKIE)]


def _instructor(service: Service, course: str, cookie: str | None) -> Course:
    """``course``, if this browser signed in to it.

    Raises:
        HTTPException: 404 no such course, 303 to the sign-in page otherwise.
    """
    found = service.course(course)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no course {course!r}")
    if not _signed_in(service, found, cookie):
        where = f"/instructor?course={quote(course)}"
        raise HTTPException(status.HTTP_303_SEE_OTHER, "sign in first", {"Location": where})
    return found


def _login(service: Service, status_code: int = 200, **data: Any) -> HTMLResponse:
    courses = [c.id for c in service.settings.config.courses.values() if c.token is not None]
    data = {"chosen": None, **data}
    return _page("login.html", status_code, courses=courses, hours=SESSION_HOURS, **data)


@router.get("/instructor")
def login_page(service: ServiceDep, course: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return _login(service, chosen=course)


@router.post("/instructor")
def login(
    request: Request,
    service: ServiceDep,
    course: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
) -> Response:
    """Check the course token; the course's page with a session cookie, or the form again."""
    _same_site(request)
    found = service.course(course)
    caller = identify(service.tokens, f"Bearer {token}") if token.strip() else None
    if found is None or caller != Caller(found.id):
        return _login(service, status.HTTP_403_FORBIDDEN, chosen=course,
                      error="this is not the course's token")  # fmt: skip
    answer = RedirectResponse(f"/instructor/{quote(found.id)}", status.HTTP_303_SEE_OTHER)
    answer.set_cookie(
        COOKIE, _session(service, found), max_age=SESSION_HOURS * 3600,
        path=f"/instructor/{quote(found.id)}", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return answer


@router.post("/instructor/{course}/logout")
def logout(request: Request, course: str) -> Response:
    """Forget the session cookie."""
    _same_site(request)
    answer = RedirectResponse("/instructor", status.HTTP_303_SEE_OTHER)
    answer.delete_cookie(COOKIE, path=f"/instructor/{quote(course)}")
    return answer


@router.get("/instructor/{course}")
def course_page(
    course: str, service: ServiceDep, session: CookieDep = None, added: int | None = None
) -> HTMLResponse:
    """The course: a class upload form, the jobs (a frame of their own that refreshes, so the
    form keeps the file chosen), the class overview and the gradebook."""
    return _page("course.html", course=_instructor(service, course, session), added=added)


@router.post("/instructor/{course}/uploads")
def course_upload(
    course: str,
    request: Request,
    service: ServiceDep,
    session: CookieDep = None,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A class export, taken as the API takes one; then the course's page."""
    _same_site(request)
    found = _instructor(service, course, session)
    try:
        if file is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "choose a file to upload")
        ids = take_class_export(service, found, file)
    except HTTPException as exc:
        return _page("course.html", exc.status_code, course=found, added=None, error=exc.detail)
    where = f"/instructor/{quote(course)}?added={len(ids)}"
    return RedirectResponse(where, status.HTTP_303_SEE_OTHER)


@router.get("/instructor/{course}/progress")
def course_progress(course: str, service: ServiceDep, session: CookieDep = None) -> HTMLResponse:
    """The course's jobs and how many are in each state; reloads itself while any is unfinished."""
    _instructor(service, course, session)
    jobs = service.jobs.of_course(course)
    counts = Counter(j.state for j in jobs)
    busy = counts["queued"] + counts["running"] > 0
    return _page("progress.html", course=course, jobs=jobs, counts=counts,
                 refresh=2 if busy else None)  # fmt: skip


@router.get("/instructor/{course}/jobs/{job}")
@router.get("/instructor/{course}/{job}/report-instructor.html")  # the class overview's links
@router.get("/instructor/{course}/{job}/report.html")
def course_job(request: Request, course: str, job: str, service: ServiceDep,
               session: CookieDep = None) -> Response:  # fmt: skip
    """One job's instructor report (everything: hidden checks, output, log); as ``report.html``
    (the class overview's student link), the report its student sees."""
    _instructor(service, course, session)
    doc = course_result(service, course, job)
    student = request.url.path.endswith("/report.html")
    return _document(student_html(doc) if student else instructor_html(doc))


@router.get("/instructor/{course}/index.html")
def course_index(course: str, service: ServiceDep, session: CookieDep = None) -> Response:
    """The class overview of every graded job."""
    _instructor(service, course, session)
    return _document(class_html(service.jobs.graded(course)))


@router.get("/instructor/{course}/grades.csv")
def course_grades(course: str, service: ServiceDep, session: CookieDep = None) -> Response:
    """The gradebook, as a download."""
    _instructor(service, course, session)
    return Response(
        class_csv(service.jobs.results(course)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{course}-grades.csv"',
            "Cache-Control": "no-store",
        },
    )
