"""Numerical gradients by centred differences (given code; imports no solution module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "grad_check_sparse", "rel_error"]


def rel_error(x: Any, y: Any) -> float:
    """cs231n's relative error: :math:`\\max |x-y| / \\max(10^{-8}, |x|+|y|)`."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _centred(f: Callable[[np.ndarray], Any], x: np.ndarray, ix: tuple[int, ...], h: float) -> tuple[Any, Any]:
    """f at x + h e_ix and x - h e_ix, restoring x[ix] afterwards."""
    old = x[ix]
    x[ix] = old + h
    plus = f(x)
    x[ix] = old - h
    minus = f(x)
    x[ix] = old
    return plus, minus


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True,
                            h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar ``f`` at ``x`` (any shape); ``x`` is perturbed in place and restored.

    Notes
    -----
    :math:`\\partial f/\\partial x_i \\approx (f(x + h e_i) - f(x - h e_i)) / 2h`.
    """
    grad = np.zeros_like(x, dtype=float)
    for ix in np.ndindex(*x.shape):
        plus, minus = _centred(f, x, ix, h)
        grad[ix] = (plus - minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray,
                                  h: float = 1e-5) -> np.ndarray:
    """Gradient of ``sum(f(x) * df)`` at ``x`` for an array-valued ``f``; ``df`` has f(x)'s shape."""
    grad = np.zeros_like(x, dtype=float)
    for ix in np.ndindex(*x.shape):
        plus, minus = _centred(lambda v: np.array(f(v), dtype=float), x, ix, h)
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
    return grad


def grad_check_sparse(f: Callable[[np.ndarray], float], x: np.ndarray, analytic_grad: np.ndarray,
                      num_checks: int = 10, h: float = 1e-5) -> list[float]:
    """Compare ``analytic_grad`` with centred differences at ``num_checks`` random indices.

    Returns the relative error at each sampled index (also printed, as the starters do).
    """
    errors = []
    for _ in range(num_checks):
        ix = tuple(np.random.randint(n) for n in x.shape)
        plus, minus = _centred(f, x, ix, h)
        numeric = (plus - minus) / (2 * h)
        analytic = analytic_grad[ix]
        err = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-12)
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {err:e}")
        errors.append(float(err))
    return errors
