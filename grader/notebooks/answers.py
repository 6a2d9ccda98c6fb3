"""Inline answers: the markdown a student wrote after a question the spec marks.

They are listed for manual grading with the points the spec reserves; nngrader never awards them.
A question starts at a markdown line that begins with one of the spec's question markers
(``Inline Question``, UCLA's ``Question``, daseCV's ``问题``); its answer is what follows an answer
marker (``Answer:``, ``Your Answer:``, ``回答``) in the same cell or a later markdown cell, and
when the marker's cell holds nothing else, the markdown cell right after it (students often add a
cell). A marker counts only at the start of a line, after markdown and LaTeX decoration
(``## ``, ``**``, ``### 3.1 ``, CS231n's ``$\\color{blue}{\\textit Your Answer:}$``), so that a
sentence that merely mentions a question is not one. An answer that is only the starter's
placeholder (``[FILL THIS IN]``) is empty: unanswered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from grader import sanitize
from grader.notebooks.read import Cell
from grader.spec.notebooks import NotebookSpec

__all__ = ["MAX_ANSWERS", "Answer", "inline_answers"]

MAX_ANSWERS = 64
"""Answers listed per notebook (a notebook is the student's: it could mark thousands)."""
QUESTION_CHARS = 1000
ANSWER_CHARS = 8000
_LATEX = re.compile(r"\\[A-Za-z]+(?:\{[A-Za-z]*\})?")
_DECORATION = re.compile(r"[\s#>*_${}\d.:]*")


@dataclass(frozen=True)
class Answer:
    """One inline question and what the student answered (``""``: nothing)."""

    question: str
    text: str


def _marker_at(text: str, markers: Sequence[str]) -> tuple[int, int] | None:
    """(start of its line, end) of the first marker that begins a line of ``text``, or None."""
    offset = 0
    for line in text.splitlines(keepends=True):
        for marker in markers:
            at = line.find(marker)
            if at >= 0 and _DECORATION.fullmatch(_LATEX.sub("", line[:at])):
                return offset, offset + at + len(marker)
        offset += len(line)
    return None


def _clip(text: str, limit: int) -> str:
    text = sanitize.printed(text.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _question_text(text: str) -> str:
    """The question without the heading's emphasis (``**Inline Question 1**``)."""
    first, newline, rest = text.partition("\n")
    return _clip(first.replace("**", "").replace("__", "").strip() + newline + rest, QUESTION_CHARS)


def _answer_text(text: str, placeholders: Sequence[str]) -> str:
    """The answer without the starter's placeholder; ``""`` when nothing else is there."""
    rest = text
    for placeholder in placeholders:
        rest = re.sub(re.escape(placeholder), "", rest, flags=re.IGNORECASE)
    if not re.sub(r"[\s*_${}\\.\[\]]", "", _LATEX.sub("", rest)):
        return ""
    return _clip(text.lstrip("*_$}:\uff1a\n\t "), ANSWER_CHARS)  # \uff1a: a CJK colon


@dataclass
class _Open:
    """A question being read: its text, its answer so far, and whether the next cell may be it."""

    question: str
    answer: str | None = None
    next_cell: bool = False


def inline_answers(cells: Sequence[Cell], spec: NotebookSpec) -> tuple[Answer, ...]:
    """Every marked question of the notebook, in order, with the student's answer."""
    found: list[Answer] = []
    current: _Open | None = None

    def close() -> None:
        if current is not None and len(found) < MAX_ANSWERS:
            found.append(
                Answer(
                    _question_text(current.question),
                    _answer_text(current.answer or "", spec.placeholders),
                )
            )

    for cell in cells:
        if cell.kind != "markdown":
            if current is not None:
                current.next_cell = False  # a code cell ends the answer's reach
            continue
        question = _marker_at(cell.source, spec.questions)
        if question is not None:
            close()
            body = cell.source[question[0] :].lstrip("#>*_ \t")
            answer = _marker_at(body, spec.answers)
            current = _Open(body if answer is None else body[: answer[0]])
            if answer is not None:
                current.answer = body[answer[1] :]
                current.next_cell = not _answer_text(current.answer, spec.placeholders)
            continue
        if current is None:
            continue
        answer = _marker_at(cell.source, spec.answers)
        if current.answer is None and answer is not None:
            current.answer = cell.source[answer[1] :]
            current.next_cell = not _answer_text(current.answer, spec.placeholders)
        elif current.next_cell and not cell.source.lstrip().startswith("#"):
            current.answer, current.next_cell = cell.source, False
        else:
            current.next_cell = False
    close()
    return tuple(found)
