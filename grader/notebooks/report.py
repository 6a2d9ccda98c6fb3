"""The notebook stage: every notebook of a submission read, and what the report says about them.

Runs before the checks and executes nothing. Each notebook becomes a ``NotebookReport`` (the
contract of ``results.json``'s ``extra_data.notebooks``); a notebook that cannot be read is still
listed, with its ``problem``, and costs nothing else. Inline answers are listed for manual grading
with the points the spec reserves (``extra_data.manual_grading``), never awarded; printed numbers
and CS182's ``submission_logs/`` are shown as self-reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.notebooks.answers import Answer, inline_answers
from grader.notebooks.cs182_logs import read_logs
from grader.notebooks.facts import error_cells, executed, part_of
from grader.notebooks.printed import printed_numbers
from grader.notebooks.read import NotebookProblem, read_notebook
from grader.results import SubmissionResult
from grader.spec.model import Spec
from grader.spec.notebooks import LogsSpec, NotebookSpec
from grader.workspace.discover import find_files, notebooks

__all__ = [
    "NO_NOTEBOOKS",
    "NotebookReport",
    "NotebooksRead",
    "read_notebooks",
    "refused_notebooks",
    "with_notebooks",
]

MAX_NOTEBOOKS = 32
"""Notebooks read per submission (an assignment has a handful)."""


@dataclass(frozen=True)
class NotebookReport:
    """One notebook in the report."""

    path: str
    """Relative to the submission's root, with ``/``."""
    part: str | None
    """The spec's part for its file name, or None."""
    executed: bool
    """Its saved outputs show it was run (the execution stage sets it when nngrader ran it)."""
    error_cells: tuple[int, ...]
    """0-based indices of the cells whose outputs hold an error."""
    answers: tuple[Answer, ...]
    printed: Mapping[str, float]
    problem: str | None = None
    """Why it could not be read (then nothing else is known about it)."""

    def as_json(self) -> dict[str, Any]:
        """The ``extra_data.notebooks`` entry (``problem`` only when there is one)."""
        out: dict[str, Any] = {
            "path": self.path,
            "part": self.part,
            "executed": self.executed,
            "error_cells": list(self.error_cells),
            "answers": [{"question": a.question, "text": a.text} for a in self.answers],
            "printed": dict(self.printed),
        }
        if self.problem is not None:
            out["problem"] = self.problem
        return out


@dataclass(frozen=True)
class NotebooksRead:
    """The notebook stage's answer."""

    reports: tuple[NotebookReport, ...] = ()
    notes: tuple[str, ...] = ()
    """For the report: notebooks that could not be read or were repaired, manual grading, logs."""
    extra: dict[str, Any] = field(default_factory=dict)
    """For ``extra_data``: ``notebooks``, ``manual_grading``, ``submission_logs``."""


NO_NOTEBOOKS = NotebooksRead()


def _report(root: Path, path: Path, spec: NotebookSpec) -> tuple[NotebookReport, tuple[str, ...]]:
    rel = path.relative_to(root).as_posix()
    part = part_of(rel, spec.parts)
    read = read_notebook(path, rel, int(spec.max_mb * 2**20))
    if isinstance(read, NotebookProblem):
        return NotebookReport(rel, part, False, (), (), {}, read.message), (read.message,)
    report = NotebookReport(
        rel,
        part,
        executed(read.cells),
        error_cells(read.cells),
        inline_answers(read.cells, spec),
        printed_numbers(read.cells, spec.printed, part),
    )
    return report, read.notes


def _manual(reports: Sequence[NotebookReport], points: float) -> tuple[list[str], dict[str, Any]]:
    count = sum(len(r.answers) for r in reports)
    if not count:
        return [], {}
    reserved = count * points
    return [
        f"{count} inline answer(s) in the notebooks await manual grading"
        + (f" ({reserved:g} points reserved, not part of this score)" if points else "")
    ], {"manual_grading": {"answers": count, "points_each": points, "points": reserved}}


def _missing(reports: Sequence[NotebookReport], missing: Sequence[str]) -> list[str]:
    if not reports or not missing:
        return []
    return [
        "graded on what the submission has: notebooks "
        + ", ".join(r.path for r in reports)
        + "; missing course files "
        + ", ".join(missing)
        + " (the checks that need them score 0)"
    ]


def _logs(root: Path, spec: LogsSpec, notebooks: bool) -> tuple[list[str], dict[str, Any]]:
    """CS182's logs, looked for beside notebooks or where the folder is (code alone claims none)."""
    logs = read_logs(root, spec)
    if not notebooks and not logs.folder:
        return [], {}
    notes = [f"{spec.folder}: {p}" for p in logs.problems]
    if logs.self_reported:
        notes.append(
            f"self-reported in {spec.results} (shown, not measured or scored): "
            + ", ".join(f"{k} {v:g}" for k, v in logs.self_reported.items())
        )
    return notes, {"submission_logs": logs.as_json()}


def read_notebooks(root: Path, spec: NotebookSpec, *, missing: Sequence[str] = ()) -> NotebooksRead:
    """Read every notebook under ``root``; ``missing``: course paths the submission lacks."""
    found = notebooks(root)
    notes: list[str] = []
    if len(found) > MAX_NOTEBOOKS:
        notes.append(f"{len(found)} notebooks; the first {MAX_NOTEBOOKS} by path were read")
    reports: list[NotebookReport] = []
    for path in found[:MAX_NOTEBOOKS]:
        report, said = _report(root, path, spec)
        reports.append(report)
        notes.extend(said)
    manual_notes, extra = _manual(reports, spec.answer_points)
    notes.extend(manual_notes)
    notes.extend(_missing(reports, missing))
    if reports:
        extra["notebooks"] = [r.as_json() for r in reports]
    if spec.logs is not None:
        logs_notes, logs_extra = _logs(root, spec.logs, bool(reports))
        notes.extend(logs_notes)
        extra.update(logs_extra)
    return NotebooksRead(tuple(reports), tuple(notes), extra)


def refused_notebooks(root: Path, specs: Iterable[Spec]) -> NotebooksRead:
    """For a submission no spec fits: its notebooks (read with the defaults) and, for each
    course whose notebooks these are, the course files the submission lacks."""
    read = read_notebooks(root, NotebookSpec())
    if not read.reports:
        return read
    names = {Path(r.path).name for r in read.reports}
    lacks: dict[str, list[str]] = {}
    for spec in specs:
        if names & set(spec.notebooks.parts):
            missing = find_files(root, spec.student_modules).missing
            paths = [spec.student_modules[m] for m in missing]
            # A module the starter's stand-in replaces (layer_utils) is not missed in grading.
            if [p for p in paths if p not in spec.stand_ins]:
                lacks[spec.id] = [p for p in paths if p not in spec.stand_ins]
    said = "the submission has notebooks " + ", ".join(r.path for r in read.reports)
    if lacks:
        said += "; the courses with these notebooks need files it lacks: " + "; ".join(
            f"{course}: {', '.join(files)}" for course, files in lacks.items()
        )
    said += ". Pass --assignment ID to grade it against a course on what it has"
    return NotebooksRead(
        read.reports, (*read.notes, said), {**read.extra, "missing_by_course": lacks}
    )


def with_notebooks(result: SubmissionResult, read: NotebooksRead) -> SubmissionResult:
    """``result`` with the notebook stage's notes and ``extra_data`` (unchanged without any)."""
    if not read.notes and not read.extra:
        return result
    return replace(result, notes=(*result.notes, *read.notes), extra={**result.extra, **read.extra})
