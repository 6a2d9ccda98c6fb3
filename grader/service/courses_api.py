"""The instructor routes (the course token): upload a class export, list the course's jobs,
read its gradebook and overview (and a job's reports, where the overview links), regrade a
job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile, status
from fastapi.responses import HTMLResponse, PlainTextResponse

from grader.executors import Document
from grader.service.auth import Caller
from grader.service.context import CallerDep, Service, ServiceDep
from grader.service.jobs_api import NOT_FOUND, submitted, visible
from grader.service.models import (
    INSTRUCTOR_ONLY,
    UPLOAD_REFUSALS,
    JobList,
    JobStatus,
    Problem,
    Submitted,
)
from grader.service.submit import take_class_export
from grader.service.views import class_csv, class_html, instructor_html, job_status, student_html

__all__ = ["course_result", "router"]

router = APIRouter()


class CSVResponse(PlainTextResponse):
    """A CSV document (UTF-8)."""

    media_type = "text/csv"


_COURSE: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "not this course's token"},
    404: {"model": Problem, "description": "no such course"},
}


def _instructor(service: Service, caller: Caller, course: str) -> str:
    """``course``, if ``caller`` holds its token.

    Raises:
        HTTPException: 404 no such course, 403 not its token.
    """
    if service.course(course) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no course {course!r}")
    if not (caller.instructor and caller.course == course):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the course's token")
    return course


@router.post(
    "/api/courses/{course}/uploads",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_COURSE,
        **UPLOAD_REFUSALS,
    },
    openapi_extra=INSTRUCTOR_ONLY,
)
def upload_class(
    course: str,
    file: Annotated[
        UploadFile,
        File(
            description="a class export: a zip of a folder or zip "
            "per student, as `nngrader grade` takes it"
        ),
    ],
    service: ServiceDep,
    caller: CallerDep,
) -> list[Submitted]:
    """One job per submission of the export (the queue's length does not limit an
    instructor's upload)."""
    _instructor(service, caller, course)
    config = service.course(course)
    assert config is not None  # noqa: S101 - _instructor found it
    ids = take_class_export(service, config, file)
    return [submitted(service, job_id, keyed=False) for job_id in ids]


@router.get("/api/courses/{course}/jobs", responses=_COURSE, openapi_extra=INSTRUCTOR_ONLY)
def course_jobs(course: str, service: ServiceDep, caller: CallerDep) -> JobList:
    """Every job of the course, oldest first."""
    _instructor(service, caller, course)
    return JobList(jobs=[job_status(j) for j in service.jobs.of_course(course)])


@router.get(
    "/api/courses/{course}/grades.csv",
    response_class=CSVResponse,
    responses=_COURSE,
    openapi_extra=INSTRUCTOR_ONLY,
)
def course_grades(course: str, service: ServiceDep, caller: CallerDep) -> CSVResponse:
    """The gradebook of every graded job (``grades.csv``, as ``nngrader grade`` writes it)."""
    _instructor(service, caller, course)
    return CSVResponse(class_csv(service.jobs.results(course)))


@router.get(
    "/api/courses/{course}/index.html",
    response_class=HTMLResponse,
    responses=_COURSE,
    openapi_extra=INSTRUCTOR_ONLY,
)
def course_index(course: str, service: ServiceDep, caller: CallerDep) -> str:
    """The class overview of every graded job (``index.html``; its links: the two routes
    below)."""
    _instructor(service, caller, course)
    return class_html(service.jobs.graded(course))


def course_result(service: Service, course: str, job: str) -> Document:
    """``job``'s stored result, if it is a job of ``course``.

    Raises:
        HTTPException: 404 no such job of the course, or not graded yet.
    """
    found = service.jobs.get(job)
    doc = service.jobs.result(job) if found is not None and found.course == course else None
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such job, or not graded yet")
    return doc


_REPORT: dict[str, Any] = {
    "response_class": HTMLResponse,
    "openapi_extra": INSTRUCTOR_ONLY,
    "responses": {
        **_COURSE,
        404: {"model": Problem, "description": "no such course, or no graded job of it"},
    },
}
"""A route of a job's report, beside the class overview."""


@router.get("/api/courses/{course}/{job}/report.html", **_REPORT)
def course_student_report(course: str, job: str, service: ServiceDep, caller: CallerDep) -> str:
    """A job's report as its student sees it (the class overview's "student" link)."""
    _instructor(service, caller, course)
    return student_html(course_result(service, course, job))


@router.get("/api/courses/{course}/{job}/report-instructor.html", **_REPORT)
def course_instructor_report(course: str, job: str, service: ServiceDep, caller: CallerDep) -> str:
    """A job's instructor report: everything (the class overview's "instructor" link)."""
    _instructor(service, caller, course)
    return instructor_html(course_result(service, course, job))


@router.post(
    "/api/jobs/{job}/regrade",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **NOT_FOUND,
        403: {"model": Problem, "description": "needs the course token"},
        409: {"model": Problem, "description": "not finished, or nothing to grade"},
    },
    openapi_extra=INSTRUCTOR_ONLY,
)
def regrade(job: str, service: ServiceDep, caller: CallerDep) -> JobStatus:
    """Grade a finished job again (attempts from zero)."""
    found = visible(service, caller, job, None)
    if not (caller.instructor and caller.course == found.course):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "regrading needs the course token")
    if not service.jobs.regrade(job):
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job} is {found.state}")
    if service.pool is not None:
        service.pool.wake()
    again = service.jobs.get(job)
    assert again is not None  # noqa: S101 - jobs are never deleted
    return job_status(again)
