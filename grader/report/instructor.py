"""``instructor.json``: the whole ``SubmissionResult``, for the instructor, and back.

``results.json`` is what Gradescope shows a student; ``instructor.json`` keeps everything else
(full messages of hidden checks, what the code printed, timings, error samples, curves), so that
``nngrader report DIR`` re-renders every view without regrading: ``from_instructor`` gives back
the very result ``to_instructor`` was given (a test holds the round trip).

JSON has no NaN or infinity: a non-finite float is written as the string ``"nan"``, ``"inf"``
or ``"-inf"``, and read back by ``float``. Fractional credit is written exactly, as ``"n/d"``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from fractions import Fraction
from typing import Any

from grader.results import (
    CheckResult,
    Comparison,
    ErrorSample,
    ModuleProblem,
    Raised,
    SubmissionResult,
)

__all__ = ["FORMAT", "from_instructor", "instructor_json", "to_instructor"]

FORMAT = "nngrader-instructor/1"
"""The document's ``format``: a reader refuses a format it does not know."""


def to_instructor(result: SubmissionResult) -> dict[str, Any]:
    """The instructor.json document of ``result`` (plain JSON values only)."""
    doc = _plain(asdict(result))
    for check, original in zip(doc["checks"], result.checks, strict=True):
        check["credit"] = None if original.credit is None else str(original.credit)
    return {"format": FORMAT, "score": result.score, "max_score": result.max_score, **doc}


def instructor_json(result: SubmissionResult) -> str:
    """The text of ``instructor.json``."""
    return json.dumps(to_instructor(result), indent=1, allow_nan=False) + "\n"


def from_instructor(doc: dict[str, Any]) -> SubmissionResult:
    """The result an instructor.json document holds.

    Raises:
        ValueError: the document is not an instructor.json this version reads (the message
            says what is wrong).
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"not an {FORMAT} document (format {found!r})")
    try:
        return SubmissionResult(
            name=doc["name"],
            assignment=doc["assignment"],
            detection=doc["detection"],
            checks=tuple(_check(c) for c in doc["checks"]),
            isolation=doc["isolation"],
            error=doc["error"],
            notes=tuple(doc["notes"]),
            seconds=float(doc["seconds"]),
            extra=doc["extra"],
            log=doc["log"],
            folder=doc["folder"],
            unwritten=doc["unwritten"],
            files=doc["files"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a malformed {FORMAT} document: {type(exc).__name__}: {exc}") from exc


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and non-finite floats as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _check(d: dict[str, Any]) -> CheckResult:
    raised, blocked = d["raised"], d["blocked_by"]
    return CheckResult(
        check_id=d["check_id"],
        status=d["status"],
        message=d["message"],
        notes=tuple(d["notes"]),
        comparisons=tuple(_comparison(c) for c in d["comparisons"]),
        diagnosis=d["diagnosis"],
        output=d["output"],
        seconds=float(d["seconds"]),
        credit=None if d["credit"] is None else Fraction(d["credit"]),
        raised=None if raised is None else Raised(**raised),
        redacted=d["redacted"],
        blocked_by=None if blocked is None else ModuleProblem(**blocked),
        curves={k: tuple(float(x) for x in v) for k, v in d["curves"].items()},
        exercised=None if d["exercised"] is None else tuple(d["exercised"]),
        part=d["part"],
        title=d["title"],
        score=float(d["score"]),
        max_score=float(d["max_score"]),
        visibility=d["visibility"],
        root_cause=d["root_cause"],
        counts=bool(d["counts"]),
    )


def _comparison(d: dict[str, Any]) -> Comparison:
    errors = d["errors"]
    return Comparison(
        name=d["name"],
        passed=bool(d["passed"]),
        message=d["message"],
        max_abs_err=_number(d["max_abs_err"]),
        max_rel_err=_number(d["max_rel_err"]),
        mismatched=int(d["mismatched"]),
        total=int(d["total"]),
        errors=None if errors is None else _sample(errors),
    )


def _sample(d: dict[str, Any]) -> ErrorSample:
    grid = d["grid"]
    return ErrorSample(
        shape=tuple(int(n) for n in d["shape"]),
        grid=None if grid is None else tuple(tuple(float(x) for x in row) for row in grid),
        edges=tuple(float(e) for e in d["edges"]),
        counts=tuple(int(c) for c in d["counts"]),
        nonfinite=int(d["nonfinite"]),
    )
