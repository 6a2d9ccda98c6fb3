"""Taking a submission in: the one code path behind the API's upload routes and the web pages'
forms. Each function checks, takes in and queues; the caller decides what to answer (JSON with
the job's URLs, or a redirect to the job's page).

Refusals are ``HTTPException``: 401/403/404 who may submit what, 413 too large, 422 not gradable
(intake's message; nothing kept), 429 the queue or the hourly limit (``Retry-After``; the
course's, else the spec's ``[service]``, else the service's: ``hourly_limit``).
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import PurePosixPath

from fastapi import HTTPException, UploadFile, status

from grader.errors import GraderError
from grader.service.auth import Caller
from grader.service.config import Course
from grader.service.context import Service
from grader.service.grading import failure
from grader.service.limits import HOUR, queue_full, rate_limited, read_capped
from grader.service.uploads import class_jobs, file_name, student_job
from grader.spec.registry import get_spec

__all__ = ["course_of", "hourly_limit", "take_class_export", "take_submission"]

_BUNDLED = re.compile(r"[A-Za-z0-9_-]+(@[A-Za-z0-9_.-]+)?")
"""A bundled spec's id, with its offering."""


def course_of(service: Service, caller: Caller, assignment: str) -> Course | None:
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


def hourly_limit(service: Service, course: Course | None, assignment: str) -> int:
    """Submissions per hour to ``assignment`` (0: no limit): the course's, when the
    configuration gives it one; else the spec's (``[service]``); else the service's."""
    if course is not None and course.submissions_per_hour is not None:
        return course.submissions_per_hour
    from_spec = service.spec_service(assignment).submissions_per_hour
    return service.settings.config.limits.submissions_per_hour if from_spec is None else from_spec


def _wake(service: Service) -> None:
    if service.pool is not None:
        service.pool.wake()


def take_submission(
    service: Service, caller: Caller, assignment: str, file: UploadFile, host: str
) -> str:
    """Queue one student's upload to ``assignment``; its job's id. ``host``: the client's
    address, what an anonymous submitter's hourly limit counts by."""
    course = course_of(service, caller, assignment)
    limits = service.settings.config.limits
    student = caller.student
    submitter = f"{course.id}:{student}" if course and student else f"anonymous:{host}"
    per_hour = hourly_limit(service, course, assignment)

    def admit() -> None:
        now = time.time()
        refusal = rate_limited(service.jobs.recent(submitter, now - HOUR), per_hour, now)
        refusal = refusal or queue_full(service.jobs.queued(), limits)
        if refusal is not None:
            raise refusal

    admit()  # before the upload is read and taken in: most refusals cost nothing
    name = file_name(file.filename)
    data = read_capped(file.file, limits.upload_bytes)
    who = (course.id if course else None, assignment, student, submitter)
    job = student_job(data, name, student or PurePosixPath(name).stem, who,
                      service.jobs.uploads, limits.extract())  # fmt: skip
    # Again as the job goes in, atomically: concurrent uploads passed the first check together.
    (job_id,) = service.jobs.add([job], admit)
    _wake(service)
    return job_id


def take_class_export(service: Service, course: Course, file: UploadFile) -> list[str]:
    """Queue one job per submission of a class export of ``course`` (whose token the caller was
    checked to hold); their ids. The queue's length does not limit an instructor's upload."""
    limits = service.settings.config.limits
    file_name(file.filename, (".zip",))
    data = read_capped(file.file, limits.upload_bytes)
    who = (course.id, course.assignment, None, f"{course.id}:")
    ids = service.jobs.add(class_jobs(data, who, service.jobs.uploads, limits.extract(), failure))
    _wake(service)
    return ids
