"""The API's JSON bodies, as pydantic models, and what ``/openapi.json`` publishes
(``openapi``: FastAPI's schema, made exact where FastAPI cannot say it itself)."""

from __future__ import annotations

import copy
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field

from grader.report.validate import schema as document_schema

__all__ = [
    "BEARER",
    "INSTRUCTOR_ONLY",
    "INVALID",
    "UPLOAD_REFUSALS",
    "JobList",
    "JobStatus",
    "Problem",
    "ResultsDocument",
    "Submitted",
    "openapi",
]

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
    course token with ``view=instructor``, an instructor.json document. What ``openapi``
    publishes for it is ``oneOf`` the two schemas of ``grader/report/schemas/``."""

    model_config = {"extra": "allow"}

    score: float
    extra_data: dict[str, Any] | None = None


BEARER = "bearer"
"""The security scheme: ``Authorization: Bearer <token>``, a course's or a student's."""
INSTRUCTOR_ONLY: dict[str, Any] = {"security": [{BEARER: []}]}
"""A route's ``openapi_extra`` when it needs a token (any other route takes one or none)."""
_SCHEMAS = "#/components/schemas/"
INVALID: dict[str, Any] = {
    "description": "the request is malformed (FastAPI's validation errors) or, for an upload, "
    "cannot be graded (intake's reason)",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {"$ref": _SCHEMAS + "Problem"},
                    {"$ref": _SCHEMAS + "HTTPValidationError"},
                ]
            }
        }
    },
}
"""The 422 of a route that refuses with a ``Problem`` too (FastAPI's own 422 is the other)."""
UPLOAD_REFUSALS: dict[int | str, dict[str, Any]] = {
    408: {"model": Problem, "description": "the upload did not arrive within request_seconds"},
    413: {"model": Problem, "description": "the upload is too large"},
    422: INVALID,
}
"""What every upload route may answer whatever it is (the limits' middleware, intake)."""
_DOCUMENTS = {"Results": "results", "Instructor": "instructor"}
"""Component name -> the schema in ``grader/report/schemas/`` it publishes."""


def _rebased(node: Any, prefix: str) -> Any:
    """``node`` (part of a JSON schema) with its ``#/$defs/x`` references made
    ``#/components/schemas/<prefix>_x``."""
    if isinstance(node, list):
        return [_rebased(item, prefix) for item in node]
    if not isinstance(node, dict):
        return node
    found = {key: _rebased(value, prefix) for key, value in node.items()}
    ref = found.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        found["$ref"] = f"{_SCHEMAS}{prefix}_{ref.removeprefix('#/$defs/')}"
    return found


def _document_components() -> dict[str, Any]:
    """The results.json and instructor.json schemas as OpenAPI components (each ``$defs`` entry
    a component of its own), and ``ResultsDocument``: one of them."""
    found: dict[str, Any] = {}
    for component, name in _DOCUMENTS.items():
        doc = copy.deepcopy(document_schema(name))
        for key, value in doc.pop("$defs", {}).items():
            found[f"{component}_{key}"] = _rebased(value, component)
        doc.pop("$schema", None)
        doc.pop("$id", None)
        found[component] = _rebased(doc, component)
    found["ResultsDocument"] = {
        "title": "ResultsDocument",
        "description": "results.json (the student view: hidden checks keep their points and "
        "status, never their details) or, with view=instructor, instructor.json",
        "oneOf": [{"$ref": _SCHEMAS + component} for component in _DOCUMENTS],
    }
    return found


def _exact(schema: dict[str, Any]) -> None:
    """FastAPI's ``schema``, made exact in place: the ``Authorization`` header a route reads
    becomes the bearer security scheme (optional where a route takes anonymous callers) with its
    401, refusals are JSON, uploaded files are binary, and results documents get their real
    schemas."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "a course token (the instructor) or a student token",
    }
    schemas = components.setdefault("schemas", {})
    schemas.update(_document_components())
    for name, body in schemas.items():
        if name.startswith("Body_"):
            for prop in body.get("properties", {}).values():
                if "contentMediaType" in prop:
                    prop["format"] = "binary"
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation["responses"].items():
                # Refusals are JSON, whatever a route answers otherwise (FastAPI files a
                # refusal's model under an HTML or CSV route's media type).
                found = [
                    c["schema"] for c in response.get("content", {}).values() if c.get("schema")
                ]
                if code.startswith("4") and found:
                    response["content"] = {"application/json": {"schema": found[0]}}
            params = operation.get("parameters", [])
            header = [p for p in params if p["in"] == "header" and p["name"] == "authorization"]
            if not header:
                continue
            operation["parameters"] = [p for p in params if p not in header]
            if not operation["parameters"]:
                del operation["parameters"]
            operation.setdefault("security", [{BEARER: []}, {}])
            operation["responses"].setdefault(
                "401",
                {
                    "description": "a token nobody has",
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": _SCHEMAS + "Problem"}}},
                },
            )


def openapi(app: FastAPI) -> dict[str, Any]:
    """``app``'s published schema (``app.openapi``): FastAPI's, made exact (``_exact``) each time
    FastAPI makes it again (a router added)."""
    schema = FastAPI.openapi(app)
    if BEARER not in schema.get("components", {}).get("securitySchemes", {}):
        _exact(schema)
    return schema
