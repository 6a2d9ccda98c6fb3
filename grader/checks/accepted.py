"""Valid variants: what a student may write differently from the reference without losing a point.

The policy (``assignments/README.md``, "Valid variants"): a variant is valid when the course's own
notebook check cannot tell it from the reference. Each one here is accepted where its difference
shows, with an advisory note that costs nothing, and a net built from an accepted layer is
accepted too, so that a net-level check never amplifies a difference its layer check accepts.

* ε outside the square root in test-mode batchnorm, ``(x - μ) / (sqrt(var) + ε)``: the
  BatchNormalization notebook's test-time check prints means and standard deviations that
  cannot show it (variants.md §1.1, §9.4). Test mode only: in train mode the gradient check of
  the notebook follows the student's own forward, and the reference's placement is the one the
  starters' docstrings give.
* running statistics kept with a shape that broadcasts like (D,) (``keepdims=True``: (1, D)):
  test mode computes the same output with them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.context import Context
from grader.checks.oracle import Alternatives
from grader.compare import compare

__all__ = ["Alternatives", "choose", "state_array"]


def choose(ctx: Context, actual: Any, expected: Any, alternatives: Alternatives) -> Any:
    """``expected``, or the first valid variant's output that ``actual`` matches within the
    check's tolerance when ``expected`` is not matched (its note then goes to the report)."""
    if _close(ctx, actual, expected):
        return expected
    for note, value in alternatives:
        if _close(ctx, actual, value):
            if note:
                ctx.notes.append(note)
            return value
    return expected


def state_array(ctx: Context, name: str, actual: Any, expected: np.ndarray, rows: int) -> Any:
    """``actual`` reshaped to ``expected``'s shape (D,) when it is a state array that broadcasts
    against (rows, D) exactly as (D,) does (``keepdims=True`` gives (1, D)); else ``actual``."""
    if not isinstance(actual, np.ndarray) or actual.shape == expected.shape or expected.ndim != 1:
        return actual
    shape = actual.shape
    try:
        broadcasts = np.broadcast_shapes(shape, (rows, expected.size)) == (rows, expected.size)
    except ValueError:
        return actual
    if not (broadcasts and actual.size == expected.size):
        return actual
    ctx.notes.append(
        f"advisory, no points lost: {name} has shape {shape}; the course keeps shape "
        f"{expected.shape}, which broadcasts the same way, so the values were compared"
    )
    return actual.reshape(expected.shape)


def _close(ctx: Context, actual: Any, expected: Any) -> bool:
    dtype = "float32" if getattr(actual, "dtype", None) == np.float32 else "float64"
    tol = ctx.spec.tolerance(ctx.check, dtype)
    return compare("candidate", actual, expected, rtol=tol.rtol, atol=tol.atol).passed
