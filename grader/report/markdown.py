"""A GitHub-flavored Markdown summary of a batch, for ``$GITHUB_STEP_SUMMARY`` (or a comment).

Per submission: a heading with its points, a table of the checks it may see (status, points,
check, and for a check that did not pass its message, the mistake it looks like and its likely
root cause), the points withheld until release or graded by the instructor, the validation
accuracy the grader measured, and the submission's notes. Everything is the student view before
release (``grader.report.student_view``): a check that is not visible shows up only in the
withheld points, since GitHub shows a summary to everyone who can see the run.

Names and messages hold a student's words, so each is made inert (``inert``): white space runs
become one space (a table row stays one line), control characters are escaped
(``grader.sanitize``), and every character that could start Markdown or HTML (``<``, ``&``,
backticks, ``|``, ``*``, ``[``, ``$``, ``@`` ...) is backslash-escaped, as are the ``:`` of
``://`` and the ``.`` of ``www.``, which GitHub would otherwise turn into links.

GitHub refuses a step summary over 1 MiB, so the text stays under ``MAX_BYTES`` (UTF-8) whatever
the batch: messages are cut at ``MESSAGE_CHARS``; if that is not enough the per-check tables of
the last submissions are left out, and then the last submissions themselves, with a line that
says so (results.json keeps everything).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader import sanitize
from grader.report.names import readable
from grader.report.student_view import (
    StudentCheck,
    StudentView,
    Withheld,
    student_extra,
    student_view,
)
from grader.results import SubmissionResult

__all__ = ["MAX_BYTES", "MESSAGE_CHARS", "NAME_CHARS", "inert", "summary_markdown"]

MAX_BYTES = 1_048_576
"""GitHub's limit for one step's summary (bytes of UTF-8)."""
MESSAGE_CHARS = 300
"""Longest message (or error) shown, in characters before escaping."""
NAME_CHARS = 120
"""Longest submission name shown."""
_SCAN = 4
"""Of a text shown cut at N characters, only the first ``_SCAN * N`` are read (white space runs
shrink to one space)."""
_RESERVE = 1024
"""Bytes kept free for the lines saying what was left out."""
_ESCAPED = re.compile(r"([\\`*_{}\[\]<>#+!|~$&@]|(?<=[wW]{3})\.|:(?=//))")
"""Characters escaped in student text: what can open Markdown or HTML (emphasis, code, links,
images, HTML and entities, tables, math, mentions), and the link-making ``www.`` and ``://``."""
STATUS = {"passed": "✅ passed", "failed": "❌ failed", "error": "💥 error", "timeout": "⏱️ timeout"}


def inert(text: str, limit: int | None = None) -> str:
    """``text`` as Markdown that renders as exactly these words: one line, no markup, at most
    ``limit`` characters before escaping (cut with ``…``)."""
    line = _one_line(text) if limit is None else _cut(text, limit)
    return _ESCAPED.sub(r"\\\1", line)


def _one_line(text: str) -> str:
    """White space runs as one space, control characters escaped."""
    return sanitize.text(" ".join(text.split()))


def _cut(text: str, limit: int) -> str:
    """``_one_line`` of at most ``limit`` characters; of a long text only the start is read (a
    message of megabytes, 40 checks times 500 submissions over)."""
    head = text[: _SCAN * limit]
    line = _one_line(head)
    if len(head) < len(text) or len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def _points(value: float) -> str:
    return f"{value:g}"


def _row(check: StudentCheck) -> str:
    points = f"{_points(check.score)}/{_points(check.max_score)}" if check.counts else "info"
    details = ""
    if check.status != "passed":
        parts = [inert(check.message, MESSAGE_CHARS)] if check.message else []
        if check.diagnosis:
            parts.append("looks like: " + inert(check.diagnosis, MESSAGE_CHARS))
        if check.root_cause:
            parts.append(f"likely caused by check {inert(check.root_cause)}")
        details = " — ".join(parts)
    title = inert(f"{check.part}: {check.title}")
    return f"| {STATUS[check.status]} | {points} | {title} | {details} |"


def _table(view: StudentView) -> str:
    """The checks the student may see, or ``""`` when there is none."""
    if not view.checks:
        return ""
    rows = [
        "| Status | Points | Check | Details |",
        "| :-- | --: | :-- | :-- |",
        *map(_row, view.checks),
    ]
    return "\n".join(rows) + "\n\n"


def _withheld(view: StudentView) -> str:
    """What the view leaves out, as points and checks, or ``""``."""
    said = []
    if view.pending.count:
        said.append(f"{_held(view.pending)} pending, shown once released")
    if view.by_instructor.count:
        said.append(f"{_held(view.by_instructor)} graded by your instructor")
    return ("Not shown here: " + "; ".join(said) + ".\n\n") if said else ""


def _notes(notes: Sequence[str]) -> str:
    """The submission's notes (what intake skipped, the points a public check leaves to the
    instructor, how it was isolated) as a list folded under a line that counts them, or ``""``:
    a class's summary stays a list of scores."""
    if not notes:
        return ""
    items = "".join(f"- {inert(note, MESSAGE_CHARS)}\n" for note in notes)
    count = f"{len(notes)} note" + ("s" if len(notes) != 1 else "")
    return f"<details><summary>{count}</summary>\n\n{items}\n</details>\n\n"


def _held(held: Withheld) -> str:
    """``4 points (2 checks)``."""
    return f"{_points(held.points)} points ({held.count} check{'s' if held.count != 1 else ''})"


def _accuracy(extra: dict[str, Any]) -> str:
    """The validation accuracy the grader measured, as a line, or ``""``."""
    accuracy = extra.get("accuracy")
    val = accuracy.get("val") if isinstance(accuracy, dict) else None
    if isinstance(val, bool) or not isinstance(val, int | float) or not math.isfinite(val):
        return ""
    return f"Validation accuracy measured by the grader: {100 * val:.2f} %.\n\n"


@dataclass(frozen=True)
class _Block:
    """One submission's text: the head (always shown if it fits) and its table."""

    head: str
    table: str


def _block(result: SubmissionResult) -> _Block:
    view = student_view(result)
    name = inert(readable(result.name), NAME_CHARS) or "(no name)"
    assignment = inert(result.assignment or "no assignment")
    if result.checks:
        title = f"### {name} — {_points(view.score)} / {_points(view.max_score)} points"
    else:
        title = f"### {name} — not graded"
    lines = [f"{title} ({assignment})\n\n"]
    if result.error:
        lines.append(f"**Could not grade:** {inert(result.error, MESSAGE_CHARS)}\n\n")
    lines.append(_withheld(view))
    lines.append(_accuracy(student_extra(result)))
    lines.append(_notes(result.notes))
    return _Block("".join(lines), _table(view))


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(intro: str, blocks: Sequence[_Block], limit: int) -> tuple[int, int]:
    """(submissions listed, tables shown): heads first, then tables, in order, while they fit."""
    used = _size(intro) + _RESERVE
    heads = 0
    for block in blocks:
        if used + _size(block.head) > limit:
            break
        used += _size(block.head)
        heads += 1
    tables = 0
    for block in blocks[:heads]:
        if used + _size(block.table) > limit:
            break
        used += _size(block.table)
        tables += 1
    return heads, tables


def _left_out(total: int, heads: int, tables: int) -> str:
    """The lines saying what did not fit, or ``""``."""
    lines = []
    if tables < heads:
        lines.append(
            f"> The per-check tables of the last {heads - tables} submissions are left out to "
            "keep this summary under GitHub's 1 MiB; each submission's results.json has them."
        )
    if heads < total:
        lines.append(
            f"> The last {total - heads} submissions are not listed, to keep this summary under "
            "GitHub's 1 MiB; each submission's results.json has them."
        )
    return "\n>\n".join(lines) + "\n\n" if lines else ""


def summary_markdown(results: Sequence[SubmissionResult], *, limit: int = MAX_BYTES) -> str:
    """The Markdown summary of ``results`` (student view, before release), at most ``limit``
    bytes of UTF-8."""
    count = f"{len(results)} submission" + ("s" if len(results) != 1 else "")
    intro = f"## nngrader results: {count}\n\n"
    blocks = [_block(r) for r in results]
    heads, tables = _fit(intro, blocks, limit)
    out = [intro, _left_out(len(blocks), heads, tables)]
    for i, block in enumerate(blocks[:heads]):
        out.append(block.head)
        if i < tables:
            out.append(block.table)
    return "".join(out).rstrip("\n") + "\n"
