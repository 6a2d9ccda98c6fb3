"""The student-facing routes: submit a file, follow its job, read its results and report.

A job is shown to its student (their token), to its course's instructor (the course token) and
to whoever holds its signed link (``?key=``); to anyone else it does not exist (404). Students
see the student view only: hidden checks keep their points and status, never their details.
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from grader.errors import GraderError
from grader.service.auth import Caller, may_see, sign, signed
from grader.service.config import Course
from grader.service.context import CallerDep, Service, ServiceDep
from grader.service.jobs import Job
from grader.service.limits import HOUR, queue_full, rate_limited, read_capped
from grader.service.models import JobStatus, Problem, ResultsDocument, Submitted
from grader.service.uploads import file_name, student_job
from grader.service.views import job_status, student_html, student_results
from grader.spec.registry import get_spec

__all__ = ["router", "submitted", "visible"]

router = APIRouter()

KeyQuery = Annotated[str | None, Query(description="the job's signed key (from its link)")]
_BUNDLED = re.compile(r"[A-Za-z0-9_-]+(@[A-Za-z0-9_.-]+)?")
"""A bundled spec's id, with its offering."""
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such job, or not yours"}
}


def visible(service: Service, caller: Caller, job_id: str, key: str | None) -> Job:
    """``job_id``'s job, if ``caller`` (or ``key``) may see it.

    Raises:
        HTTPException: 404 otherwise, whether or not it exists.
    """
    job = service.jobs.get(job_id)
    if job is None or not may_see(
        caller, job.course, job.student, signed(service.secret, job_id, key)
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such job")
    return job


def submitted(service: Service, job_id: str, *, keyed: bool) -> Submitted:
    """The answer to a taken submission; ``keyed``: every URL carries the job's key (anonymous
    submitters have nothing else to show)."""
    key = sign(service.secret, job_id)
    query = f"?key={key}" if keyed else ""
    base = f"/api/jobs/{job_id}"
    return Submitted(
        job=job_id,
        status_url=base + query,
        results_url=f"{base}/results{query}",
        report_url=f"{base}/report{query}",
        link=f"/jobs/{job_id}?key={key}",
    )


def _course_of(service: Service, caller: Caller, assignment: str) -> Course | None:
    """The course a submission to ``assignment`` belongs to (None: a course-less self-check
    of a bundled assignment).

    Raises:
        HTTPException: 404 unknown assignment, 403 a token of another course, 401 a course
            that takes no anonymous submissions.
    """
    if caller.course is not None:
        course = service.course(caller.course)
        if course is None or course.assignment != assignment:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this token's course has no assignment {assignment!r}"
            )
        return course
    courses = [c for c in service.settings.config.courses.values() if c.assignment == assignment]
    open_ = [c for c in courses if c.anonymous]
    if open_:
        return open_[0]
    if courses:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this assignment needs a student token")
    if _BUNDLED.fullmatch(assignment):  # an id, never a spec file's path
        with contextlib.suppress(GraderError):
            get_spec(assignment)
            return None
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown assignment {assignment!r}")


@router.post(
    "/api/assignments/{assignment}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"model": Problem}, 403: {"model": Problem}, 404: {"model": Problem},
        413: {"model": Problem, "description": "the upload is too large"},
        422: {"model": Problem, "description": "the upload cannot be graded (intake's reason)"},
        429: {"model": Problem, "description": "queue full or hourly limit (see Retry-After)"},
    },
)  # fmt: skip
def submit(
    assignment: str,
    file: Annotated[UploadFile, File(description="a .zip of a folder, a .ipynb or a .py")],
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
) -> Submitted:
    """Submit one student's work; it is graded in the background."""
    course = _course_of(service, caller, assignment)
    limits = service.settings.config.limits
    student = caller.student
    host = request.client.host if request.client else "unknown"
    submitter = f"{course.id}:{student}" if course and student else f"anonymous:{host}"
    per_hour = limits.submissions_per_hour
    if course is not None and course.submissions_per_hour is not None:
        per_hour = course.submissions_per_hour
    now = time.time()
    refusal = rate_limited(service.jobs.recent(submitter, now - HOUR), per_hour, now)
    refusal = refusal or queue_full(service.jobs.queued(), limits)
    if refusal is not None:
        raise refusal
    name = file_name(file.filename)
    data = read_capped(file.file, limits.upload_bytes)
    who = (course.id if course else None, assignment, student, submitter)
    job = student_job(data, name, student or PurePosixPath(name).stem, who,
                      service.jobs.uploads, limits.extract())  # fmt: skip
    (job_id,) = service.jobs.add([job])
    if service.pool is not None:
        service.pool.wake()
    return submitted(service, job_id, keyed=student is None)


@router.get("/api/jobs/{job}", responses=NOT_FOUND)
def job_state(job: str, service: ServiceDep, caller: CallerDep, key: KeyQuery = None) -> JobStatus:
    """A job's state and, once graded, its score."""
    return job_status(visible(service, caller, job, key))


@router.get(
    "/api/jobs/{job}/results",
    response_model=ResultsDocument,
    responses={
        **NOT_FOUND, 403: {"model": Problem, "description": "the instructor view needs the "
                                                            "course token"},
        409: {"model": Problem, "description": "not graded yet"},
    },
)  # fmt: skip
def job_results(
    job: str,
    service: ServiceDep,
    caller: CallerDep,
    key: KeyQuery = None,
    view: Annotated[Literal["student", "instructor"], Query()] = "student",
) -> JSONResponse:
    """results.json (the student view), or instructor.json with ``view=instructor``."""
    found = visible(service, caller, job, key)
    if view == "instructor" and not (caller.instructor and caller.course == found.course):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the instructor view needs the course token")
    doc = _document(service, found)
    return JSONResponse(doc if view == "instructor" else student_results(doc))


@router.get(
    "/api/jobs/{job}/report",
    response_class=HTMLResponse,
    responses={**NOT_FOUND, 409: {"model": Problem, "description": "not graded yet"}},
)
def job_report(job: str, service: ServiceDep, caller: CallerDep, key: KeyQuery = None) -> str:
    """The student's report (HTML)."""
    return student_html(_document(service, visible(service, caller, job, key)))


@router.get("/jobs/{job}", response_class=RedirectResponse, status_code=307, responses=NOT_FOUND)
def job_page(job: str, service: ServiceDep, caller: CallerDep, key: KeyQuery = None) -> str:
    """The job's page (for now: its report, once graded, else its state)."""
    found = visible(service, caller, job, key)
    page = "/report" if found.state in ("done", "failed") else ""
    return f"/api/jobs/{job}{page}" + (f"?key={key}" if key else "")


def _document(service: Service, job: Job) -> dict[str, object]:
    """``job``'s stored result.

    Raises:
        HTTPException: 409 while it is not graded.
    """
    doc = service.jobs.result(job.id) if job.state in ("done", "failed") else None
    if doc is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job.id} is {job.state}, not graded")
    return doc
