"""The student-facing routes: submit a file, follow its job, read its results and report.

A job is shown to its student (their token), to its course's instructor (the course token) and
to whoever holds its signed link (``?key=``); to anyone else it does not exist (404). Students
see the student view only: hidden checks keep their points and status, never their details.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from grader.service.auth import Caller, may_see, sign, signed
from grader.service.context import CallerDep, Service, ServiceDep
from grader.service.jobs import Job
from grader.service.models import UPLOAD_REFUSALS, JobStatus, Problem, ResultsDocument, Submitted
from grader.service.submit import take_submission
from grader.service.views import job_status, student_html, student_results

__all__ = ["router", "submitted", "visible"]

router = APIRouter()

KeyQuery = Annotated[str | None, Query(description="the job's signed key (from its link)")]
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


@router.post(
    "/api/assignments/{assignment}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"model": Problem, "description": "a token nobody has, or the assignment's "
                                               "course needs a student token"},
        403: {"model": Problem, "description": "a token of a course without this assignment"},
        404: {"model": Problem, "description": "no such assignment"},
        **UPLOAD_REFUSALS,
        429: {"model": Problem, "description": "queue full or hourly limit (see Retry-After)",
              "headers": {"Retry-After": {"description": "seconds", "required": True,
                                          "schema": {"type": "integer"}}}},
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
    host = request.client.host if request.client else "unknown"
    job_id = take_submission(service, caller, assignment, file, host)
    return submitted(service, job_id, keyed=caller.student is None)


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


@router.get(
    "/jobs/{job}",
    response_class=RedirectResponse,
    status_code=status.HTTP_307_TEMPORARY_REDIRECT,
    responses={
        307: {"description": "to the job's report once graded, else to its state",
              "headers": {"Location": {"required": True, "schema": {"type": "string"}}}},
        **NOT_FOUND,
    },
)  # fmt: skip
def job_page(job: str, service: ServiceDep, caller: CallerDep, key: KeyQuery = None) -> str:
    """The job's page (for now: its report, once graded, else its state)."""
    found = visible(service, caller, job, key)
    page = "/report" if found.state in ("done", "failed") else ""
    # The key as given (a course's or student's token may have opened the job without it),
    # quoted: "&", "+" or "#" in it must not end or change the query.
    return f"/api/jobs/{job}{page}" + (f"?key={quote(key, safe='')}" if key else "")


def _document(service: Service, job: Job) -> dict[str, object]:
    """``job``'s stored result.

    Raises:
        HTTPException: 409 while it is not graded.
    """
    doc = service.jobs.result(job.id) if job.state in ("done", "failed") else None
    if doc is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job.id} is {job.state}, not graded")
    return doc
