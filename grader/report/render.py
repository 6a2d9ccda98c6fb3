"""The render stage: the only place that writes a graded submission's files.

Under ``DIR/<folder>/`` (``<folder>`` is the result's ``folder``, ``grader.report.names``):

* ``results.json``: what Gradescope shows the student (``grader.report.gradescope``);
* ``instructor.json``: the whole result, for the instructor and for ``nngrader report``, which
  re-renders every view from it (``grader.report.instructor``);
* ``report.html``: the student's report, through the student view (``grader.report.html``);
  ``release`` shows the checks that are withheld until release;
* ``report-instructor.html``: everything, hidden checks and what the code printed included;
* ``output.txt``: everything the code printed, hidden checks included, for the instructor;
* the result's ``files`` (``--execute``: the executed notebooks).

Each file is written whole or not at all (a temporary file beside it, renamed over it), so a full
disk never leaves a truncated results.json that Gradescope would read as a broken submission; and
results.json is written last, so its presence means the submission was rendered completely.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from grader.report import html, validate
from grader.report.gradescope import to_gradescope
from grader.report.instructor import to_instructor
from grader.report.names import slug
from grader.results import SubmissionResult

__all__ = ["RESULTS", "json_text", "render", "write_whole"]

RESULTS = "results.json"
INSTRUCTOR = "instructor.json"


def render(result: SubmissionResult, out: Path, *, release: bool = False) -> Path:
    """Write ``result``'s files under ``out/<folder>/``; returns the ``results.json`` path.

    Raises:
        OSError: a file could not be written (what was there before is left as it was).
        ValueError: with ``$NNGRADER_VALIDATE_OUTPUT`` set, a document does not conform to its
            schema (a grader bug).
    """
    student, instructor = to_gradescope(result), to_instructor(result)
    if validate.wanted():
        validate.validate("results", student)
        validate.validate("instructor", instructor)
    folder = out / (result.folder or slug(result.name))
    folder.mkdir(parents=True, exist_ok=True)
    write_whole(folder / "output.txt", result.log)
    for name, text in result.files.items():
        write_whole(folder / Path(name).name, text)  # a bare name: never outside the folder
    write_whole(folder / INSTRUCTOR, json_text(instructor, indent=1))
    write_whole(folder / "report-instructor.html", html.instructor_report(result))
    write_whole(folder / "report.html", html.student_report(result, release=release))
    write_whole(folder / RESULTS, json_text(student, indent=2))
    return folder / RESULTS


def json_text(doc: object, *, indent: int) -> str:
    """ASCII JSON text (every other character is an escape), never NaN."""
    return json.dumps(doc, indent=indent, allow_nan=False) + "\n"


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        # backslashreplace: text that cannot be UTF-8 (a lone surrogate) is shown, not fatal.
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
