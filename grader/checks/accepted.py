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

from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.checks.context import Context
from grader.compare import compare

__all__ = ["EPS_OUTSIDE", "batchnorm_net_scores", "batchnorm_test", "choose", "state_array"]

EPS_OUTSIDE = (
    "advisory, no points lost: test-mode batchnorm adds eps outside the square root, "
    "(x - mean) / (sqrt(var) + eps); the reference uses sqrt(var + eps), and the notebook's "
    "checks accept both"
)

Alternatives = list[tuple[str, np.ndarray]]
"""``[(note, expected)]``: a valid variant's output and the note shown when it is the match."""


def _eps_outside(
    x: np.ndarray, gamma: Any, beta: Any, mean: np.ndarray, var: np.ndarray, eps: float
) -> np.ndarray:
    out: np.ndarray = gamma * (x - mean) / (np.sqrt(var) + eps) + beta
    return out


TEST_MODE = [(EPS_OUTSIDE, _eps_outside)]
"""Valid test-mode batchnorm variants: ``(note, f(x, gamma, beta, running_mean, running_var,
eps))``, x: (N, D), the others (D,)."""


def batchnorm_test(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
) -> Alternatives:
    """Test-mode batchnorm outputs (N, D) of the valid variants; x: (N, D), the others (D,)."""
    return [(note, f(x, gamma, beta, running_mean, running_var, eps)) for note, f in TEST_MODE]


def batchnorm_net_scores(
    params: dict[str, np.ndarray], bn_params: Sequence[dict[str, Any]], X: np.ndarray
) -> Alternatives:
    """Test-mode scores (N, C) of ``{affine - batchnorm - relu} x (L-1) - affine`` nets whose
    batchnorm is a valid variant, with the running statistics of ``bn_params`` (one dict per
    hidden layer, as the reference net keeps them; missing statistics are the starters' zeros).
    X: (N, D). Dropout is the identity in test mode."""
    last = len(bn_params) + 1
    found: Alternatives = []
    for note, norm in TEST_MODE:
        h = X.reshape(X.shape[0], -1).astype(np.float64)
        for i, bn in enumerate(bn_params, start=1):
            a = h @ params[f"W{i}"] + params[f"b{i}"]
            zeros = np.zeros(a.shape[1])
            mean, var = bn.get("running_mean", zeros), bn.get("running_var", zeros)
            out = norm(a, params[f"gamma{i}"], params[f"beta{i}"], mean, var, bn.get("eps", 1e-5))
            h = np.maximum(out, 0)
        found.append((note, h @ params[f"W{last}"] + params[f"b{last}"]))
    return found


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
