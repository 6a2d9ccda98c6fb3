"""Valid variants' outputs: what a student may compute differently without losing a point.

The policy and the list are ``grader.checks.accepted``'s; this module computes the variants'
outputs. Like the known mistakes (``grader.checks.mistakes``) it is reached only through the
oracle (``LiveOracle.accepted``), by name: a variant of a solution is a solution too, so a
student kit holds its outputs on the public inputs, never this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["EPS_OUTSIDE", "Alternatives", "batchnorm_net_scores", "batchnorm_test"]

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
