"""The render stage: the only place that writes a graded submission's files.

``DIR/<name>/results.json`` is the student's view (Gradescope's format plus our detail);
``DIR/<name>/output.txt`` keeps everything the code printed, hidden checks included, for the
instructor.
"""

from __future__ import annotations

from pathlib import Path

from grader.report.gradescope import write_results_json
from grader.results import SubmissionResult

__all__ = ["render"]


def render(result: SubmissionResult, out: Path) -> Path:
    """Write ``result``'s files under ``out/<name>/``; returns the ``results.json`` path."""
    path = out / result.name / "results.json"
    write_results_json(result, path)
    (out / result.name / "output.txt").write_text(result.log, encoding="utf-8")
    return path
