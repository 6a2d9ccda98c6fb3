"""The bundled example submissions (``examples/<course>/<name>/``), graded once per test session.

Many tests read the results of the same bundled submissions; grading each one once (in plain
processes: these are the project's own files, and the sandbox has its own suite) and sharing the
results keeps the suite fast without testing less. Each submission is graded on first use, so a
run of a few test files grades only the examples they read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.results import SubmissionResult

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TIMING = frozenset({"seconds", "execution_time"})
"""Keys of timing fields, which differ from run to run and are left out of every comparison."""
CHECK_SECONDS = 5.0
"""Per-check time limit used for the bundled examples (one of them hangs on purpose)."""


def bundled() -> dict[str, list[Path]]:
    """Course id -> its bundled submission folders, sorted by name."""
    return {
        course.name: sorted(p for p in course.iterdir() if p.is_dir())
        for course in sorted(EXAMPLES.iterdir())
        if course.is_dir()
    }


def strip_timing(value: Any) -> Any:
    """``value`` (decoded JSON) without its timing fields, at any depth."""
    if isinstance(value, dict):
        return {k: strip_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [strip_timing(v) for v in value]
    return value


class BundledResults(Mapping[str, dict[str, Any]]):
    """``"<course>/<name>"`` -> the decoded ``results.json`` of that bundled submission.

    Each submission is graded with ``nngrader grade``'s API into ``out`` the first time it is
    looked up, and never again; ``result(name)`` gives the ``SubmissionResult`` of the same run.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.folders = {
            f"{course}/{path.name}": path for course, paths in bundled().items() for path in paths
        }
        self._graded: dict[str, tuple[SubmissionResult, dict[str, Any]]] = {}

    def _graded_once(self, name: str) -> tuple[SubmissionResult, dict[str, Any]]:
        if name not in self._graded:
            from grader import api

            course = name.partition("/")[0]
            (result,) = api.grade(
                [self.folders[name]],
                out=self.out / course,
                assignment=course,
                sandbox="process",
                limits={"check_seconds": CHECK_SECONDS},
            )
            path = self.out / course / result.name / "results.json"
            self._graded[name] = (result, json.loads(path.read_text(encoding="utf-8")))
        return self._graded[name]

    def result(self, name: str) -> SubmissionResult:
        """The ``SubmissionResult`` of ``"<course>/<name>"`` (the one its results.json shows)."""
        return self._graded_once(name)[0]

    def instructor(self, name: str) -> dict[str, Any]:
        """The decoded ``instructor.json`` of ``"<course>/<name>"``, from the same run."""
        result = self.result(name)
        path = self.out / name.partition("/")[0] / result.name / "instructor.json"
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def __getitem__(self, name: str) -> dict[str, Any]:
        return self._graded_once(name)[1]

    def __contains__(self, name: object) -> bool:  # without grading it
        return name in self.folders

    def __iter__(self) -> Iterator[str]:
        return iter(self.folders)

    def __len__(self) -> int:
        return len(self.folders)


def grade_bundled(out: Path) -> dict[str, dict[str, Any]]:
    """Grade every bundled submission with ``nngrader grade``'s API into ``out``.

    Returns ``"<course>/<name>"`` -> the decoded ``results.json``.
    """
    return dict(BundledResults(out))
