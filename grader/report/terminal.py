"""Plain-text views for the terminal: one line per submission, and a check table.

A submission's name, its error and its notes may hold a student's text (a folder name, a file
name in a message): they are shown through ``grader.report.names.shown`` and
``grader.sanitize.text``, so that nothing a student named can move the cursor or forge a line.
"""

from __future__ import annotations

import textwrap

from grader import sanitize
from grader.report.names import shown
from grader.report.student_view import student_check
from grader.results import SubmissionResult

MARK = {"passed": "ok", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT"}


def one_line(result: SubmissionResult) -> str:
    """``name  score/max  passed/total checks  [isolation]`` or the submission's error."""
    name = shown(result.name)
    if result.error:
        return f"{name:<28} ERROR  {sanitize.text(result.error)}"
    passed = sum(c.status == "passed" for c in result.checks)
    return (
        f"{name:<28} {result.score:6.1f}/{result.max_score:<6.1f} "
        f"{passed}/{len(result.checks)} checks passed"
        f"  [{result.assignment}, {result.isolation}]"
    )


def check_table(result: SubmissionResult, width: int = 100) -> str:
    """Checks grouped by part, with points, status and the message."""
    lines = [f"{shown(result.name)}: {result.assignment} ({sanitize.text(result.detection)})"]
    if result.error:
        lines.append(f"  could not grade: {sanitize.text(result.error)}")
    for note in result.notes:
        lines.append(f"  note: {sanitize.text(note)}")
    part = None
    for check in map(student_check, result.checks):
        if check.part != part:
            part = check.part
            lines.append(f"\n[{part}]")
        points = f"{check.score:g}/{check.max_score:g}" if check.counts else "info"
        lines.append(f"  {MARK[check.status]:<8}{points:>8}  {check.title}")
        if check.status != "passed":
            detail = check.message + (
                f" — looks like: {check.diagnosis}" if check.diagnosis else ""
            )
            if check.root_cause:
                detail += f" (likely caused by '{check.root_cause}')"
            lines.extend(
                textwrap.wrap(
                    detail, width=width, initial_indent=" " * 18, subsequent_indent=" " * 18
                )
            )
    lines.append(f"\nTotal: {result.score:g} / {result.max_score:g}")
    return "\n".join(lines)
