"""What the API shows of a job and of a course, made from the stored documents with the batch's
own renderers: ``results.json`` through the student view (``grader.report.gradescope``: a hidden
check keeps its points and status, never its message, inputs or output), ``report.html``
(``grader.report.html.student_report``), the instructor's report, and the class views
(``index.html``, ``grades.csv``). Nothing here decides who may see what
(``grader.service.auth``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from grader.executors import Document
from grader.report.gradebook import grades_csv
from grader.report.gradescope import to_gradescope
from grader.report.html import class_index, instructor_report, student_report
from grader.report.instructor import from_instructor
from grader.service.jobs import Job
from grader.service.models import JobStatus

__all__ = ["class_csv", "class_html", "instructor_html", "job_status", "student_html",
           "student_results"]  # fmt: skip


def job_status(job: Job) -> JobStatus:
    """The API's view of ``job``."""
    return JobStatus(
        job=job.id,
        assignment=job.assignment,
        name=job.name,
        student=job.student,
        state=job.state,  # type: ignore[arg-type]  # the table's CHECK keeps it one of four
        submitted=job.submitted,
        started=job.started,
        finished=job.finished,
        attempts=job.attempts,
        score=job.score,
        max_score=job.max_score,
        error=job.error,
    )


def student_results(doc: Document) -> dict[str, Any]:
    """The results.json document of a stored result (what the student may see)."""
    return to_gradescope(from_instructor(doc))


def student_html(doc: Document) -> str:
    """The student's report.html of a stored result (checks withheld until release stay so)."""
    return student_report(from_instructor(doc))


def instructor_html(doc: Document) -> str:
    """The instructor's report-instructor.html of a stored result (everything)."""
    return instructor_report(from_instructor(doc))


def class_html(graded: Sequence[tuple[str, Document]]) -> str:
    """The class overview (``index.html``) of a course's stored results, by job id.

    A batch's overview links to each submission's folder beside it (``<folder>/report.html``,
    ``<folder>/report-instructor.html``); here a job's folder is its id, and every route that
    serves an overview serves ``{job}/report.html`` and ``{job}/report-instructor.html`` beside
    it (``courses_api``, ``pages``).
    """
    return class_index([replace(from_instructor(d), folder=job) for job, d in graded])


def class_csv(docs: Sequence[Document]) -> str:
    """The gradebook (``grades.csv``, with the byte-order mark Excel needs to read UTF-8)."""
    return "\ufeff" + grades_csv([from_instructor(d) for d in docs])
