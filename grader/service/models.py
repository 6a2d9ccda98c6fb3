"""The API's JSON bodies, as pydantic models: what ``/openapi.json`` publishes for each route."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["JobList", "JobStatus", "Problem", "ResultsDocument", "Submitted"]

State = Literal["queued", "running", "done", "failed"]


class Problem(BaseModel):
    """Any refusal (4xx): what is wrong, in words."""

    detail: str


class Submitted(BaseModel):
    """A submission taken: its job, and where to follow it."""

    job: str
    state: State = "queued"
    status_url: str = Field(description="GET: the job's state (JobStatus)")
    results_url: str = Field(description="GET: results.json once done (409 before)")
    report_url: str = Field(description="GET: the student's report.html once done")
    link: str = Field(description="the job's page, signed: whoever holds it may see the job")


class JobStatus(BaseModel):
    """A job's state and, once graded, its score."""

    job: str
    assignment: str
    name: str
    student: str | None
    state: State
    submitted: float = Field(description="Unix time")
    started: float | None = Field(description="Unix time of the latest attempt's start")
    finished: float | None = Field(description="Unix time")
    attempts: int = Field(description="gradings started that count against the bound")
    score: float | None
    max_score: float | None
    error: str | None = Field(description="why the submission was not graded, if it was not")


class JobList(BaseModel):
    """Jobs, oldest first."""

    jobs: list[JobStatus]


class ResultsDocument(BaseModel):
    """A results.json document (Gradescope's format, hidden checks withheld) or, for the
    course token with ``view=instructor``, an instructor.json document; the schemas are in
    ``grader/report/schemas/``."""

    model_config = {"extra": "allow"}

    score: float
    extra_data: dict[str, Any] | None = None
