"""The class views of a batch: ``index.html`` (the class overview) and ``grades.csv``.

Both are instructor views of the whole batch, written into the output folder beside the
submissions' folders when a batch ends (``nngrader grade``, also after Ctrl-C for what
finished, and ``nngrader report``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grader.report.gradebook import grades_csv
from grader.report.html import class_index
from grader.report.render import write_whole
from grader.results import SubmissionResult

__all__ = ["CSV", "INDEX", "write_class_views"]

INDEX = "index.html"
CSV = "grades.csv"


def write_class_views(results: Sequence[SubmissionResult], out: Path) -> list[Path]:
    """Write ``out/index.html`` and ``out/grades.csv`` for ``results``; returns their paths.

    Results that were never written (``unwritten``) are left out of both: the index would link
    to a report that does not exist.

    Raises:
        OSError: a file could not be written.
    """
    written = [r for r in results if not r.unwritten]
    # A byte-order mark: Excel reads a CSV as UTF-8 only with one (accented names otherwise come
    # out garbled); Sheets, LibreOffice and pandas' utf-8-sig read it too.
    views = {INDEX: class_index(written), CSV: "\ufeff" + grades_csv(written)}
    for name, text in views.items():
        write_whole(out / name, text)
    return [out / name for name in views]
