"""The HTML views: ``report.html`` (the student's), ``report-instructor.html`` and ``index.html``.

Python prepares plain data (dataclasses of the result, dicts, numbers, PNG data URLs from
``grader.report.plots``) and jinja2 templates (``grader/report/templates/``) write every tag, so
no markup is ever assembled from strings here. The environment escapes every value
(``autoescape``), passes every string through ``grader.sanitize.printed`` first (results read back
from an old ``instructor.json``, or built by hand, may still hold control characters), and fails
on a name a template misspells (``StrictUndefined``) instead of printing nothing. No template uses
``|safe``: a plot is a data URL whose base64 alphabet needs no escaping, and the ``png`` filter
refuses any string that is not exactly such a URL.

Each page is one file that works offline: CSS inline, plots as data URLs, and a Content Security
Policy that allows nothing else: no network at all, and only the page's own inline style and
script, named by their SHA-256 (so even text that escaped escaping could not run).

The student report reads the result only through ``grader.report.student_view``; the instructor
report and the class index show everything.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from grader import sanitize
from grader.report import plots
from grader.report.names import readable, slug
from grader.report.student_view import student_extra, student_view
from grader.results import CheckResult, SubmissionResult

__all__ = [
    "FORMULA",
    "Part",
    "Shown",
    "class_index",
    "formula_steps",
    "instructor_report",
    "student_report",
]

FORMULA = re.compile(r"grade on the (validation|test) split: (.+)")
"""The last line of an accuracy check's message: the grade worked out on the measured accuracy
(written by ``grader.accuracy.check``; the report shows it, computing nothing)."""
SHOWN_KEYS = frozenset({"accuracy", "notebooks", "manual_grading", "executed", "module_problems"})
"""``extra`` keys the instructor report shows in sections of their own; the rest are listed."""


def _inert(value: Any) -> Any:
    """Every string a template prints, free of control characters (before it is escaped)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return sanitize.printed(value)
    return value


def _points(value: float) -> str:
    """Points as a person reads them: ``6``, ``6.5``, ``6.79``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def _png(url: str) -> str:
    """The plot's data URL, after checking that it is one (a template embeds nothing else)."""
    if not plots.is_data_url(url):
        raise ValueError("not a PNG data URL made by grader.report.plots")
    return url


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("grader.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_inert,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(points=_points, percent=_percent, png=_png)
    return env


def _sha256(template: str) -> str:
    """The CSP source of an inline style or script: the hash of the text the page holds."""
    text = _environment().get_template(template).render()
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def _policy(script: bool) -> str:
    """The page's Content Security Policy: nothing from anywhere but its own inline parts."""
    scripts = _sha256("sort.js") if script else "'none'"
    return (
        f"default-src 'none'; img-src data:; style-src {_sha256('report.css')}; "
        f"script-src {scripts}; base-uri 'none'; form-action 'none'"
    )


def _render(template: str, *, script: bool = False, **data: Any) -> str:
    return _environment().get_template(template).render(policy=_policy(script), **data)


@dataclass(frozen=True)
class Shown:
    """One check as a page shows it: the check, and what Python prepares for its template."""

    check: CheckResult
    root_cause: str | None
    """The title of the check that likely caused this failure: for the instructor its id when no
    check has it; for a student only a check the page shows."""
    plots: tuple[str | None, ...]
    """Per comparison: the plot of its errors, or None."""
    curves: str | None
    """The plot of the check's training curves, or None."""
    formula: tuple[str, ...]
    """The accuracy grade's steps, when the message holds one."""
    measured: tuple[str, ...]
    """The message's other lines, when it holds a grade: what was measured, printed, warned."""


@dataclass(frozen=True)
class Part:
    """One part (notebook) of the assignment: its checks and their points."""

    id: str
    score: float
    max_score: float
    checks: tuple[Shown, ...]


def formula_steps(message: str) -> tuple[str, ...]:
    """The accuracy grade worked out, one step a line (``X = ...``, ``min(...)``, ``* 10 points
    = ...``), as the grader wrote it as the message's last line; ``()`` when there is none."""
    lines = message.splitlines()
    found = FORMULA.fullmatch(lines[-1]) if lines else None
    if found is None:
        return ()
    split, worked = found.groups()
    steps = [s.strip() for s in worked.split(";")]
    return (f"{split} accuracy", *steps)


def _shown(check: CheckResult, titles: Mapping[str, str], *, instructor: bool) -> Shown:
    """The check with its plots: error samples only of visible checks for a student (the others
    keep their comparisons once released, but not the picture of their expected values)."""
    cause = check.root_cause or ""
    plot_errors = instructor or check.visibility == "visible"
    # One picture per check: the first failing comparison's, the one its message leads with.
    # Each costs tens of milliseconds, and a net with every gradient wrong would draw six
    # alike; the others keep their numbers in words.
    plotted = next((c for c in check.comparisons if c.errors and not c.passed), None)
    return Shown(
        check=check,
        # For a student, only a check the page shows is named (not one still withheld).
        root_cause=titles.get(cause, cause if instructor else None) if cause else None,
        plots=tuple(
            plots.error_plot(c.errors) if plot_errors and c is plotted and c.errors else None
            for c in check.comparisons
        ),
        curves=plots.curves_plot(check.curves) if check.curves else None,
        # Only an accuracy rule's outcome grades with a formula (and it always sets a credit).
        formula=formula_steps(check.message) if check.credit is not None else (),
        measured=tuple(check.message.splitlines()[:-1]),
    )


def _parts(checks: Iterable[Shown]) -> list[Part]:
    """The checks grouped by part, parts in the order they first appear, with their points."""
    grouped: dict[str, list[Shown]] = {}
    for shown in checks:
        grouped.setdefault(shown.check.part, []).append(shown)
    return [
        Part(
            part,
            sum(s.check.score for s in members),
            sum(s.check.max_score for s in members),
            tuple(members),
        )
        for part, members in grouped.items()
    ]


def _dicts(value: Any) -> list[dict[str, Any]]:
    """A list of records from ``extra``, whatever an older or hand-made result put there."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _notebooks(extra: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``extra["notebooks"]`` with every field a template reads (absent ones empty)."""
    return [
        {
            "path": str(nb.get("path", "")),
            "part": nb.get("part") or "",
            "executed": bool(nb.get("executed")),
            "error_cells": [int(i) for i in nb.get("error_cells") or ()],
            "answers": [
                {"question": str(a.get("question", "")), "text": str(a.get("text", ""))}
                for a in _dicts(nb.get("answers"))
            ],
            "printed": dict(nb.get("printed") or {}),
            "problem": nb.get("problem") or "",
        }
        for nb in _dicts(extra.get("notebooks"))
    ]


def _manual(extra: Mapping[str, Any]) -> dict[str, Any] | None:
    manual = extra.get("manual_grading")
    if not isinstance(manual, dict):
        return None
    return {k: manual.get(k) or 0 for k in ("answers", "points_each", "points")}


def _common(result: SubmissionResult) -> dict[str, Any]:
    """What both reports of one submission show alike: never a check (the student's come from
    the student view), only what results.json shows a student too."""
    extra = student_extra(result)
    return {
        "name": readable(result.name),
        "assignment": result.assignment,
        "error": result.error or "",
        "notes": result.notes,
        "notebooks": _notebooks(extra),
        "manual": _manual(extra),
    }


def student_report(result: SubmissionResult, *, release: bool = False) -> str:
    """``report.html``: what the student view shows of ``result`` (``release``: the checks
    withheld until release too), and how many points it withholds."""
    view = student_view(result, release=release)
    titles = {c.check_id: c.title for c in view.checks}
    shown = [_shown(c, titles, instructor=False) for c in view.checks]
    return _render(
        "student.html",
        view=view,
        parts=_parts(shown),
        accuracy=[s for s in shown if s.formula],
        **_common(result),
    )


def _extra_detail(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The other ``extra`` entries as indented JSON, for the instructor to read."""
    return [
        (key, json.dumps(value, indent=1, ensure_ascii=False, default=str))
        for key, value in extra.items()
        if key not in SHOWN_KEYS
    ]


def _accuracy_extra(extra: Mapping[str, Any]) -> dict[str, Any] | None:
    acc = extra.get("accuracy")
    if not isinstance(acc, dict):
        return None
    return {
        "val": acc.get("val"),
        "test": acc.get("test"),
        "printed_val": acc.get("printed_val"),
        "source": acc.get("source") or "",
        "error": acc.get("error") or "",
        "flags": [str(f) for f in acc.get("flags") or ()],
    }


def _executed(result: SubmissionResult) -> list[dict[str, Any]]:
    return [
        {
            "notebook": str(run.get("notebook", "")),
            "seconds": run.get("seconds"),
            "cells": {str(k): v for k, v in (run.get("cells") or {}).items()},
            "model": str(run.get("model") or ""),
        }
        for run in _dicts(result.extra.get("executed"))
    ]


def instructor_report(result: SubmissionResult) -> str:
    """``report-instructor.html``: everything, hidden checks, full messages, what the code
    printed, the log, timings, notes and every detail of ``extra``."""
    titles = {c.check_id: c.title for c in result.checks}
    shown = [_shown(c, titles, instructor=True) for c in result.checks]
    return _render(
        "instructor.html",
        result=result,
        parts=_parts(shown),
        accuracy=[s for s in shown if s.formula],
        accuracy_extra=_accuracy_extra(result.extra),
        module_problems=_dicts(result.extra.get("module_problems")),
        executed=_executed(result),
        # Linked where the render stage writes them: by their bare name, beside this page.
        files=[(name, quote(Path(name).name, safe="")) for name in sorted(result.files)],
        detail=_extra_detail(result.extra),
        **_common(result),
    )


def _href(result: SubmissionResult, page: str) -> str:
    """The relative link from ``index.html`` to one of the submission's pages."""
    return quote(result.folder or slug(result.name), safe="") + "/" + page


def _row(result: SubmissionResult) -> dict[str, Any]:
    acc = _accuracy_extra(result.extra)
    return {
        "name": readable(result.name),
        "student": _href(result, "report.html"),
        "instructor": _href(result, "report-instructor.html"),
        "assignment": result.assignment,
        "score": result.score,
        "max_score": result.max_score,
        "percent": 100 * result.score / result.max_score if result.max_score else None,
        "passed": sum(c.status == "passed" for c in result.checks),
        "checks": len(result.checks),
        "failing": [c.title for c in result.checks if c.status != "passed"],
        "accuracy": acc["val"] if acc else None,
        "error": result.error or "",
    }


def _pass_rates(results: Sequence[SubmissionResult]) -> list[dict[str, Any]]:
    """Per check (of each assignment, in spec order): how many passed, failed, erred."""
    rates: dict[tuple[str, str], dict[str, Any]] = {}
    for result in results:
        for c in result.checks:
            rate = rates.setdefault(
                (result.assignment, c.check_id),
                {"assignment": result.assignment, "part": c.part, "title": c.title,
                 "visibility": c.visibility, "total": 0,
                 "passed": 0, "failed": 0, "error": 0, "timeout": 0},
            )  # fmt: skip
            rate["total"] += 1
            rate[c.status] += 1
    for rate in rates.values():
        rate["rate"] = 100 * rate["passed"] / rate["total"]
    return list(rates.values())


def _diagnoses(results: Sequence[SubmissionResult]) -> list[tuple[str, str, int]]:
    """(check title, known mistake, submissions) for every diagnosis made, most common first."""
    counts = Counter(
        (c.title, c.diagnosis) for r in results for c in r.checks if c.diagnosis is not None
    )
    return [(title, diagnosis, n) for (title, diagnosis), n in counts.most_common()]


def _summary(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def class_index(results: Sequence[SubmissionResult]) -> str:
    """``index.html``: the batch at a glance for the instructor, with a link to every
    submission's reports."""
    rows = [_row(r) for r in results]
    scores = [r["percent"] for r in rows if r["percent"] is not None]
    accuracies = [100 * r["accuracy"] for r in rows if r["accuracy"] is not None]
    return _render(
        "index.html",
        script=True,
        rows=rows,
        assignments=sorted({r.assignment for r in results}),
        scores=_summary(scores),
        score_plot=plots.distribution_plot(scores, xlabel="score (% of max)", low=0, high=100),
        accuracies=_summary(accuracies),
        accuracy_plot=plots.distribution_plot(
            accuracies, xlabel="validation accuracy (%)", low=0, high=100
        ),
        rates=_pass_rates(results),
        diagnoses=_diagnoses(results),
        errored=[r for r in rows if r["error"]],
    )
