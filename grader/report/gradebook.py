"""The instructor's gradebook: one CSV row per submission, ready for a spreadsheet or an LMS.

This is an instructor export: every check's points, hidden ones included (not the student view).
Columns, in this order:

* ``submission`` (the name as found, ``grader.report.names.readable``), ``student`` and
  ``lms_id`` (who the LMS export says it is: ``grader.intake.lms.lms_identity``),
  ``assignment``, ``error``;
* one column per part (``fc``: the points earned in it), then one per check
  (``fc: affine_forward``: part and check id, unique, and short where titles are long);
* ``accuracy`` (the validation accuracy the grader measured, when it did), ``total``,
  ``max_score``.

A batch of several assignments gets the union of their columns, a column shared by assignments
that have the same part or check, and a cell empty where a check does not apply. Columns come in
the order they first appear (assignments in order of their id, each in spec order), the checks
grouped by part; so they do not depend on the order of the submissions.

The text is the csv module's (a header row, ``\\r\\n`` line ends, quoted where needed). Any
text cell may hold a student's words (a folder name, a file name in an error): control
characters are escaped (``grader.sanitize.text``), and a cell that a spreadsheet would read as a
formula (it starts with ``= + - @``, a tab or a carriage return, or their full-width forms, after
any white space) gets a leading apostrophe, as OWASP advises against CSV injection. Write it as
UTF-8; Excel needs ``encoding="utf-8-sig"`` (a byte-order mark) to read it as UTF-8.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from grader import sanitize
from grader.intake.lms import lms_identity
from grader.report.names import readable
from grader.results import SubmissionResult

__all__ = ["FIXED_AFTER", "FIXED_BEFORE", "cell", "columns", "grades_csv", "header", "points"]

FIXED_BEFORE = ("submission", "student", "lms_id", "assignment", "error")
FIXED_AFTER = ("accuracy", "total", "max_score")
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""First characters that make a spreadsheet evaluate a cell (with their full-width forms, which
some spreadsheets fold to ASCII)."""

Column = tuple[str, str, str]
"""(kind, part, check id): ``("part", "fc", "")`` or ``("check", "fc", "affine_forward")``."""


def cell(text: str) -> str:
    """A text cell that a spreadsheet shows as text: no control characters, no formula."""
    clean = sanitize.text(text)
    # Judged on the text as given too: escaped, a leading tab is the two characters "\t".
    if any(t.startswith(_FORMULA) for t in (text, text.lstrip(), clean.lstrip())):
        return "'" + clean
    return clean


def points(value: float) -> str:
    """Points as a spreadsheet reads them: at most 4 decimals, no trailing zeros (``2``,
    ``0.6667``)."""
    return f"{round(value, 4):.4f}".rstrip("0").rstrip(".")


def _ordered(results: Iterable[SubmissionResult]) -> list[SubmissionResult]:
    """Results by assignment id, the one with most checks first (an accuracy rule is graded only
    where there was data), then by name: columns follow assignments, not the submissions' order.
    """
    return sorted(results, key=lambda r: (r.assignment, -len(r.checks), r.name))


def columns(results: Sequence[SubmissionResult]) -> list[Column]:
    """Part columns, then check columns grouped by part: the union over ``results``, each in
    the order it first appears."""
    parts: dict[str, None] = {}
    checks: dict[Column, None] = {}
    for result in _ordered(results):
        for check in result.checks:
            parts.setdefault(check.part, None)
            checks.setdefault(("check", check.part, check.check_id), None)
    rank = {part: i for i, part in enumerate(parts)}
    grouped = sorted(checks, key=lambda c: rank[c[1]])  # stable: first appearance in a part
    return [*(("part", p, "") for p in parts), *grouped]


def _header(column: Column) -> str:
    kind, part, check_id = column
    return part if kind == "part" else f"{part}: {check_id}"


def header(cols: Sequence[Column]) -> list[str]:
    """The header row: the fixed names, and each column's, numbered where it would repeat one
    (a part called ``total`` does not take the total's name)."""
    seen = {*FIXED_BEFORE, *FIXED_AFTER}
    named = []
    for name in map(_header, cols):
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name} #{n}"
        seen.add(candidate)
        named.append(candidate)
    return [*FIXED_BEFORE, *named, *FIXED_AFTER]


def _accuracy(extra: dict[str, Any]) -> str:
    """The measured validation accuracy (``extra["accuracy"]["val"]``), or ``""``."""
    accuracy = extra.get("accuracy")
    val = accuracy.get("val") if isinstance(accuracy, dict) else None
    if isinstance(val, bool) or not isinstance(val, int | float) or not math.isfinite(val):
        return ""
    return points(float(val))


def _scores(result: SubmissionResult, cols: Sequence[Column]) -> list[str]:
    """The result's cells under ``cols``: earned points, empty where nothing applies."""
    earned: dict[Column, float] = {}
    for check in result.checks:
        key = ("part", check.part, "")
        earned[key] = earned.get(key, 0.0) + check.score
        earned[("check", check.part, check.check_id)] = check.score
    return [points(earned[c]) if c in earned else "" for c in cols]


def _row(result: SubmissionResult, cols: Sequence[Column]) -> list[str]:
    name = readable(result.name)
    student, lms_id = lms_identity(name)
    return [
        cell(name),
        cell(student),
        cell(lms_id),
        cell(result.assignment),
        cell(result.error or ""),
        *_scores(result, cols),
        _accuracy(result.extra),
        points(result.score),
        points(result.max_score),
    ]


def grades_csv(results: Sequence[SubmissionResult]) -> str:
    """The gradebook of ``results`` as CSV text, one row per submission in their order."""
    cols = columns(results)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell(h) for h in header(cols)])
    for result in results:
        writer.writerow(_row(result, cols))
    return out.getvalue()
