"""Gradescope ``results.json`` (the autograder results format), with our detail in ``extra_data``.

The top level holds only the keys Gradescope documents (``score``, ``execution_time``,
``output``, ``output_format``, ``visibility``, ``stdout_visibility``, ``extra_data``, ``tests``;
we write no ``leaderboard``), and each test only its documented keys (``name``, ``score``,
``max_score``, ``status``, ``output``, ``output_format``, ``visibility``, ``tags``,
``extra_data``). Everything of our own is under ``extra_data``: at the top ``max_score``,
``submission`` (the name as found, ``grader.report.names.readable``, whatever folder the file was
written to), ``assignment``, ``detection``, ``isolation``, ``error``, ``notes`` and the result's
own ``extra``. ``grader/report/schemas/results.schema.json`` pins the form; the tests validate
every results.json they write against it.

Every check is rendered from its student view (``grader.report.student_view``) in its released
form, with its visibility: Gradescope itself withholds a test until its visibility allows.
"""

from __future__ import annotations

import math
from typing import Any

from grader.report.names import readable
from grader.report.student_view import StudentCheck, student_check, student_extra
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
        "output": "\n".join(line for line in lines if line),
        "output_format": "text",
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
        "execution_time": round(result.seconds, 3),
        "output": "\n".join(output),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [_test(student_check(c)) for c in result.checks],
        "extra_data": {
            "max_score": result.max_score,
            "submission": readable(result.name),
            "assignment": result.assignment,
            "detection": result.detection,
            "isolation": result.isolation,
            "error": result.error,
            "notes": list(result.notes),
            **student_extra(result),
        },
    }
