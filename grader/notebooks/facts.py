"""Facts about one read notebook: its part, whether it was run, which cells hold errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from grader.notebooks.read import Cell

__all__ = ["error_cells", "executed", "part_of", "unrun_cells"]


def part_of(path: str, parts: Mapping[str, str]) -> str | None:
    """The part whose notebook has this file name (exactly, else ignoring case), or None."""
    name = PurePosixPath(path).name
    if name in parts:
        return parts[name]
    folded = {k.casefold(): v for k, v in parts.items()}
    return folded.get(name.casefold())


def _code(cells: Sequence[Cell]) -> list[Cell]:
    """Code cells with something in them (an empty cell is never run and never matters)."""
    return [c for c in cells if c.kind == "code" and c.source.strip()]


def executed(cells: Sequence[Cell]) -> bool:
    """The saved notebook shows a run: at least one code cell has an execution count or
    outputs (a notebook saved without running has neither)."""
    return any(c.ran for c in _code(cells))


def unrun_cells(cells: Sequence[Cell]) -> int:
    """Code cells with code that show no run (in an executed notebook: cells skipped)."""
    return sum(not c.ran for c in _code(cells))


def error_cells(cells: Sequence[Cell]) -> tuple[int, ...]:
    """0-based indices (among all cells) of the cells whose saved outputs hold an error."""
    return tuple(i for i, c in enumerate(cells) if c.error)
