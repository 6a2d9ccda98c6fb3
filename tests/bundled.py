"""The bundled example submissions (``examples/<course>/<name>/``), graded once per test session.

Many tests read the results of the same bundled submissions; grading each one once (in plain
processes: these are the project's own files, and the sandbox has its own suite) and sharing the
results keeps the suite fast without testing less.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TIMING = frozenset({"seconds"})
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


def grade_bundled(out: Path) -> dict[str, dict[str, Any]]:
    """Grade every bundled submission with ``nngrader grade``'s API into ``out``.

    Returns ``"<course>/<name>"`` -> the decoded ``results.json``.
    """
    from grader import api

    docs: dict[str, dict[str, Any]] = {}
    for course, folders in bundled().items():
        results = api.grade(
            folders,
            out=out / course,
            assignment=course,
            sandbox="process",
            limits={"check_seconds": CHECK_SECONDS},
        )
        for result in results:
            path = out / course / result.name / "results.json"
            docs[f"{course}/{result.name}"] = json.loads(path.read_text(encoding="utf-8"))
    return docs
