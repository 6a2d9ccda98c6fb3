"""Plain-text views for the terminal: one line per submission, and a check table.

A submission's name, its error and its notes may hold a student's text (a folder name, a file
name in a message): they are shown through ``grader.report.names.shown`` and
``grader.sanitize.text``, so that nothing a student named can move the cursor or forge a line.

The check table fits the terminal (``table_width``: its width, at least ``MIN_WIDTH``): long
titles are cut with ``...`` and messages wrapped under the title, at most ``DETAIL_LINES`` lines
each, so that a failing check with a long message stays one readable block. Colour, when asked
for (``use_color``: a TTY, and no ``NO_COLOR`` in the environment, https://no-color.org), marks
the status only; the table's text is the same either way.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from typing import TextIO

from grader import sanitize
from grader.report.names import shown
from grader.report.student_view import student_check
from grader.results import SubmissionResult

__all__ = ["MARK", "MIN_WIDTH", "check_table", "one_line", "table_width", "use_color"]

MARK = {"passed": "ok", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT"}
MIN_WIDTH = 80
"""Narrowest table laid out; a narrower terminal wraps it (80 columns is every terminal's
default, and what ``shutil.get_terminal_size`` assumes when output is not a terminal)."""
DETAIL_LINES = 8
"""Most lines a check's message takes in the table (the whole message is in results.json)."""
_INDENT = 20
"""Where messages start, under the title: two spaces, the status (8), the points (8), two
spaces."""
_COLORS = {"passed": "\x1b[32m", "failed": "\x1b[31m", "error": "\x1b[31m", "timeout": "\x1b[33m"}
_RESET = "\x1b[0m"


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


def table_width() -> int:
    """The terminal's width, at least ``MIN_WIDTH`` (``$COLUMNS`` wins, as everywhere)."""
    return max(MIN_WIDTH, shutil.get_terminal_size().columns)


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set to anything."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def check_table(result: SubmissionResult, width: int | None = None, *, color: bool = False) -> str:
    """Checks grouped by part, with points, status and the message, ``width`` columns wide at
    most (default ``table_width()``); ``color`` marks the status with ANSI colours."""
    width = max(width or table_width(), MIN_WIDTH)
    head = f"{shown(result.name)}: {result.assignment} ({sanitize.text(result.detection)})"
    lines = _wrap(head, width, "", "    ")
    if result.error:
        lines += _wrap(f"could not grade: {sanitize.text(result.error)}", width, "  ", "    ")
    for note in result.notes:
        lines += _wrap(f"note: {sanitize.text(note)}", width, "  ", "    ")
    part = None
    for check in map(student_check, result.checks):
        if check.part != part:
            part = check.part
            lines += ["", _cut(f"[{sanitize.text(part)}]", width)]
        points = f"{check.score:g}/{check.max_score:g}" if check.counts else "info"
        label = MARK[check.status]
        mark = f"{_COLORS[check.status]}{label}{_RESET}" if color else label
        prefix = f"  {label:<8}{points:>8}  "
        title = _cut(sanitize.text(check.title), width - len(prefix))
        lines.append(f"  {mark}{' ' * (8 - len(label))}{points:>8}  {title}")
        if check.status != "passed":
            detail = check.message + (
                f" — looks like: {check.diagnosis}" if check.diagnosis else ""
            )
            if check.root_cause:
                detail += f" (likely caused by '{check.root_cause}')"
            indent = " " * _INDENT
            wrapped = _wrap(sanitize.text(detail), width, indent, indent)
            if len(wrapped) > DETAIL_LINES:
                last = _cut(wrapped[DETAIL_LINES - 1] + " ...", width)
                wrapped = [*wrapped[: DETAIL_LINES - 1], last]
            lines += wrapped
    lines += ["", f"Total: {result.score:g} / {result.max_score:g}"]
    return "\n".join(lines)


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """``text`` wrapped to ``width`` (words longer than a line are broken, so nothing sticks
    out)."""
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest) or [first]


def _cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``...`` when it was longer."""
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."
