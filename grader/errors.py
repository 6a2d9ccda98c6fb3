"""Exception taxonomy.

``SpecError`` and ``GraderError`` abort a run with an actionable message (exit code 3).
Problems with one submission never raise past the pipeline: they become messages and zero scores.
"""

from __future__ import annotations

from pathlib import Path


class GraderError(Exception):
    """The grader itself cannot go on (bad installation, sandbox unavailable, bad arguments)."""


class SpecError(GraderError):
    """A course spec is invalid; names the file, the key and the problem."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = Path(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)
