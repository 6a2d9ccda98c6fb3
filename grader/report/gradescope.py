"""Gradescope ``results.json`` (the autograder results format) plus nngrader's own detail.

Gradescope reads the top-level ``score``, ``output``, ``visibility``, ``stdout_visibility`` and
``tests[]`` with ``name``, ``score``, ``max_score``, ``status`` ('passed'/'failed'), ``output``,
``visibility``, ``tags`` and ``extra_data``; other keys are ignored by Gradescope and carry our
detail: ``submission`` is the submission's name as found (``grader.report.names.readable``),
whatever folder the file was written to.
Every check is rendered from its student view (``grader.report.student_view``), which decides what
a student may see.
"""

from __future__ import annotations

import json
import math
from typing import Any

from grader.report.names import readable
from grader.report.student_view import StudentCheck, student_check
from grader.results import SubmissionResult


def _num(x: float | None) -> Any:
    if x is None:
        return None
    return x if math.isfinite(x) else str(x)


def _test(check: StudentCheck) -> dict[str, Any]:
    lines = [check.message]
    if check.diagnosis:
        lines.append(f"Looks like: {check.diagnosis}")
    if check.root_cause:
        lines.append(f"Likely root cause: check '{check.root_cause}' failed too")
    if check.output:
        lines.append("Your code printed:\n" + check.output)
    return {
        "name": f"{check.part}: {check.title}",
        "score": check.score,
        "max_score": check.max_score,
        "status": "passed" if check.status == "passed" else "failed",
        "output": "\n".join(lines),
        "visibility": check.visibility,
        "tags": [check.part],
        "extra_data": {
            "check_id": check.check_id,
            "status": check.status,
            "counts": check.counts,
            "diagnosis": check.diagnosis,
            "root_cause": check.root_cause,
            "seconds": round(check.seconds, 4),
            "comparisons": [
                {
                    "name": c.name,
                    "passed": c.passed,
                    "message": c.message,
                    "max_abs_err": _num(c.max_abs_err),
                    "max_rel_err": _num(c.max_rel_err),
                    "mismatched": c.mismatched,
                    "total": c.total,
                }
                for c in check.comparisons
            ],
        },
    }


def to_gradescope(result: SubmissionResult) -> dict[str, Any]:
    """The results.json document of one submission (plain JSON, no NaN)."""
    output = [
        f"{result.score:g} / {result.max_score:g} points "
        f"({result.assignment or 'unknown assignment'})"
    ]
    if result.error:
        output.append(f"Could not grade: {result.error}")
    output.extend(result.notes)
    return {
        "score": result.score,
        "max_score": result.max_score,
        "output": "\n".join(output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [_test(student_check(c)) for c in result.checks],
        "assignment": result.assignment,
        "detection": result.detection,
        "isolation": result.isolation,
        "error": result.error,
        "notes": list(result.notes),
        "submission": readable(result.name),
        "seconds": round(result.seconds, 3),
        "extra_data": result.extra,
    }


def results_json(result: SubmissionResult) -> str:
    """The text of ``results.json`` (ASCII: every other character is a JSON escape)."""
    return json.dumps(to_gradescope(result), indent=2, allow_nan=False) + "\n"
