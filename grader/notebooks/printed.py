"""Numbers a notebook printed, found by the spec's patterns in its saved outputs.

They are what the student's run printed (relative errors, the final model's validation and test
accuracy): reported as printed, never scored as measured. When a name is printed more than once,
the last print counts (the notebook's latest run of that cell, in cell order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from grader.notebooks.read import Cell
from grader.spec.notebooks import PrintedNumber

__all__ = ["VAL_ACCURACY", "printed_numbers", "printed_val_accuracy"]

VAL_ACCURACY = "val_accuracy"
"""The printed number that is the final model's validation accuracy."""
MAX_NAMES = 256
"""Names kept per notebook (a pattern with ``{name}`` could match anything the student printed)."""
_NAME_CHARS = 64


def printed_numbers(
    cells: Sequence[Cell], patterns: Iterable[PrintedNumber], part: str | None
) -> dict[str, float]:
    """Name -> the last value printed, for the patterns that apply to ``part``; finite only."""
    text = "".join(c.output for c in cells if c.kind == "code")
    found: dict[str, tuple[int, float]] = {}
    for printed in patterns:
        if printed.parts and part not in printed.parts:
            continue
        for match in printed.pattern.finditer(text):
            value = float(match.group("value"))
            if not math.isfinite(value):
                continue
            name = printed.name
            if "{name}" in name:
                name = name.replace("{name}", match.group("name")[:_NAME_CHARS])
            known = name in found
            if (known or len(found) < MAX_NAMES) and match.start() >= found.get(name, (-1, 0))[0]:
                found[name] = (match.start(), value)
    return {name: value for name, (_, value) in sorted(found.items())}


class _HasPrinted(Protocol):
    @property
    def printed(self) -> Mapping[str, float]: ...


def printed_val_accuracy(notebooks: Iterable[_HasPrinted]) -> float | None:
    """The final model's validation accuracy as the notebooks printed it, a fraction in [0, 1].

    The first notebook (in path order) that printed ``val_accuracy`` gives it; a value above 1
    and at most 100 was printed in percent. None when none printed a usable value. Self-reported:
    for display and cross-checks, never a measured accuracy.
    """
    for notebook in notebooks:
        value = notebook.printed.get(VAL_ACCURACY)
        if value is None:
            continue
        if 0.0 <= value <= 1.0:
            return value
        if 1.0 < value <= 100.0:
            return value / 100.0
    return None
