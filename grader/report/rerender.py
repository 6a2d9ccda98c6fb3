"""``nngrader report DIR``: every view re-rendered from the files a grading run wrote.

Each ``DIR/<folder>/instructor.json`` holds a whole result (``grader.report.instructor``); from
it the render stage writes every per-submission view again, and the class views follow. Nothing
is regraded and no student code runs. ``release`` shows students the checks withheld until
release (``grader.report.student_view``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from grader.errors import GraderError
from grader.report.class_views import write_class_views
from grader.report.instructor import from_instructor
from grader.report.render import INSTRUCTOR, render
from grader.results import SubmissionResult

__all__ = ["rerender"]


def rerender(out: Path, *, release: bool) -> list[SubmissionResult]:
    """Re-render every submission under ``out`` and the class views; returns the results.

    Raises:
        GraderError: ``out`` holds no instructor.json, or some could not be read or written
            (every other one is re-rendered first; the message names each problem).
    """
    paths = sorted(out.glob(f"*/{INSTRUCTOR}"))
    if not paths:
        raise GraderError(f"{out} holds no */{INSTRUCTOR}: grade into it with nngrader grade")
    results: list[SubmissionResult] = []
    problems: list[str] = []
    for path in paths:
        try:
            result = from_instructor(json.loads(path.read_text(encoding="utf-8")))
            # The folder it was found in, whatever the document says: views link by folder.
            result = replace(result, folder=path.parent.name)
            render(result, out, release=release)
        except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
            problems.append(f"{path}: {exc}")
            continue
        results.append(result)
    try:
        write_class_views(results, out)
    except OSError as exc:
        problems.append(f"the class views in {out}: {exc}")
    if problems:
        raise GraderError(
            f"re-rendered {len(results)} of {len(paths)}; not re-rendered:\n  "
            + "\n  ".join(problems)
        )
    return results
