"""Known mistakes of the update rules (variants.md §1.3), as outputs on the check's inputs.

Output names are the value check's (``grader.checks.optim``): ``next_w`` and ``config['<key>']``
under the canonical state keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Candidates = list[tuple[str, dict[str, Any]]]


def adam(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Candidates:
    lr, b1, b2, eps = (
        config.get(k, d)
        for k, d in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8))
    )
    m0, v0 = config.get("m", np.zeros_like(w)), config.get("v", np.zeros_like(w))
    t = config.get("t", 0)
    m = b1 * m0 + (1 - b1) * dw
    v = b2 * v0 + (1 - b2) * dw**2

    def step(tt: int) -> np.ndarray:
        out: np.ndarray = w - lr * (m / (1 - b1**tt)) / (np.sqrt(v / (1 - b2**tt)) + eps)
        return out

    # Both t mistakes use the old t in the bias corrections; what config['t'] holds afterwards
    # tells them apart (with t = 0 the step divides by zero, and neither is named).
    stale = step(t) if t > 0 else None
    return [
        (
            "Adam without bias correction (use m / (1 - beta1^t) and v / (1 - beta2^t))",
            {"next_w": w - lr * m / (np.sqrt(v) + eps)},
        ),
        (
            "t is incremented after it is used; increment t before computing the bias corrections",
            {"next_w": stale, "config['t']": t + 1} if stale is not None else {},
        ),
        (
            "t is never incremented (write t + 1 back into config, before the bias corrections "
            "use it)",
            {"next_w": stale, "config['t']": t} if stale is not None else {},
        ),
        (
            "the first and second moments are swapped in config (m holds the gradient mean, v its "
            "square)",
            {"config['m']": v, "config['v']": m},
        ),
    ]


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Candidates:
    lr, rho, eps = (
        config.get(k, d)
        for k, d in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8))
    )
    cache = rho * config.get("cache", np.zeros_like(w)) + (1 - rho) * dw**2
    return [
        (
            "RMSProp divides by the cache itself; it divides by its square root: "
            "w - lr * dw / (sqrt(cache) + eps)",
            {"next_w": w - lr * dw / (cache + eps), "config['cache']": cache},
        )
    ]


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Candidates:
    lr, mu = config.get("learning_rate", 1e-2), config.get("momentum", 0.9)
    v0 = config.get("velocity", np.zeros_like(w))
    v = mu * v0 + dw
    return [
        (
            "momentum uses the other convention (v = mu*v + dw; w -= lr*v); this course uses "
            "v = mu*v - lr*dw; w += v",
            {"next_w": w - lr * v, "config['velocity']": v},
        )
    ]


def sgd_nesterov_momentum(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Candidates:
    lr, mu = config.get("learning_rate", 1e-2), config.get("momentum", 0.9)
    v = mu * config.get("velocity", np.zeros_like(w)) - lr * dw
    return [
        (
            "this is plain momentum (w + v); Nesterov adds the look-ahead: w + v + mu * (v - "
            "v_prev)",
            {"next_w": w + v, "config['velocity']": v},
        )
    ]
