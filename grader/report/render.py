"""The render stage: the only place that writes a graded submission's files.

``DIR/<folder>/results.json`` is the student's view (Gradescope's format plus our detail);
``DIR/<folder>/output.txt`` keeps everything the code printed, hidden checks included, for the
instructor. ``<folder>`` is the result's ``folder`` (``grader.report.names``), which is the
submission's name whenever that is a safe folder name.

Each file is written whole or not at all (a temporary file beside it, renamed over it), so a full
disk never leaves a truncated results.json that Gradescope would read as a broken submission.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from grader.report.gradescope import results_json
from grader.report.names import slug
from grader.results import SubmissionResult

__all__ = ["render"]


def render(result: SubmissionResult, out: Path) -> Path:
    """Write ``result``'s files under ``out/<folder>/``; returns the ``results.json`` path.

    Raises:
        OSError: a file could not be written (what was there before is left as it was).
    """
    folder = out / (result.folder or slug(result.name))
    folder.mkdir(parents=True, exist_ok=True)
    # The log first: a results.json present means its submission was rendered completely.
    _write_whole(folder / "output.txt", result.log)
    for name, text in result.files.items():
        _write_whole(folder / Path(name).name, text)  # a bare name: never outside the folder
    _write_whole(folder / "results.json", results_json(result))
    return folder / "results.json"


def _write_whole(path: Path, text: str) -> None:
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
