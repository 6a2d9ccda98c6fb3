"""Numerical gradients by centred differences, and cs231n's ``rel_error`` (variants.md §1.5).

Given code: it imports no solution module, so the grader may hand it to a student's process.

Behaviour the notebooks rely on, kept here:

* ``x`` is perturbed **in place**, one element at a time, and restored; ``f`` is called with the
  perturbed array itself (the notebooks' ``lambda _: model.loss(X, y)[0]`` ignores its argument
  and sees the change through ``model.params``).
* Elements are visited in ``np.nditer`` order and the gradient has ``x``'s dtype.
* ``eval_numerical_gradient`` evaluates ``f(x)`` once before the loop, as the starters do, so an
  ``f`` that draws random numbers consumes the same draws as in the notebooks.
* ``grad_check_sparse`` samples indices with the standard library's ``random.randrange`` (not
  ``np.random``), as the starters do.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "eval_numerical_gradient_blobs",
    "eval_numerical_gradient_net",
    "grad_check_sparse",
    "rel_error",
]

Array = NDArray[Any]


def rel_error(x: ArrayLike, y: ArrayLike) -> float:
    """cs231n's relative error: the largest elementwise symmetric relative difference.

    Parameters
    ----------
    x, y : array_like, shape (*S)
        Arrays of one shape (or broadcastable).

    Returns
    -------
    float

    Notes
    -----
    .. math:: \\max_i \\frac{|x_i - y_i|}{\\max(10^{-8}, |x_i| + |y_i|)}
    """
    a, b = np.asarray(x), np.asarray(y)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _plus_minus(
    f: Callable[[Array], Any], x: Array, ix: tuple[int, ...], h: float
) -> tuple[Any, Any]:
    """``(f(x + h e_ix), f(x - h e_ix))`` with ``x[ix]`` restored afterwards.

    Array results are copied because ``f`` may return a view of ``x`` (e.g. dropout in test mode).
    """
    original = x[ix]
    try:
        x[ix] = original + h
        plus = _snapshot(f(x))
        x[ix] = original - h
        minus = _snapshot(f(x))
    finally:
        x[ix] = original
    return plus, minus


def _snapshot(value: Any) -> Any:
    """A copy of an array result (later perturbations must not change it); other values as is."""
    return value.copy() if isinstance(value, np.ndarray) else value


def eval_numerical_gradient(
    f: Callable[[Array], Any], x: Array, verbose: bool = True, h: float = 1e-5
) -> Array:
    """Numerical gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray, shape (*S)
        Point of evaluation; perturbed in place and restored.
    verbose : bool
        Print each index and its partial derivative.
    h : float
        Step.

    Returns
    -------
    grad : ndarray, shape (*S), dtype of ``x``

    Notes
    -----
    .. math:: \\frac{\\partial f}{\\partial x_i} \\approx \\frac{f(x + h e_i) - f(x - h e_i)}{2h}
    """
    f(x)  # unused value; the starters make this call, and an f that draws must draw alike
    grad = np.zeros_like(x)
    for ix in _indices(x):
        plus, minus = _plus_minus(f, x, ix, h)
        grad[ix] = (plus - minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[Array], Array], x: Array, df: Array, h: float = 1e-5
) -> Array:
    """Numerical gradient of an array-valued function, contracted with an upstream gradient.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray, shape (*T)``.
    x : ndarray, shape (*S)
        Point of evaluation; perturbed in place and restored.
    df : ndarray, shape (*T)
        Upstream gradient :math:`\\partial L / \\partial f`.
    h : float
        Step.

    Returns
    -------
    grad : ndarray, shape (*S), dtype of ``x``

    Notes
    -----
    .. math::
        \\frac{\\partial L}{\\partial x_i} \\approx
        \\sum_j \\frac{f_j(x + h e_i) - f_j(x - h e_i)}{2h}\\, df_j
    """
    grad = np.zeros_like(x)
    for ix in _indices(x):
        plus, minus = _plus_minus(f, x, ix, h)
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
    return grad


def eval_numerical_gradient_blobs(
    f: Callable[..., Any], inputs: Sequence[Any], output: Any, h: float = 1e-5
) -> list[Array]:
    """Numerical gradients for a function on blobs (objects with ``vals`` and ``diffs`` arrays).

    Parameters
    ----------
    f : callable
        Called as ``f(*inputs, output)``; writes its result into ``output.vals``.
    inputs : sequence of blob
        Each with ``vals`` : ndarray, shape (*S_k), perturbed in place and restored, and
        ``diffs`` : ndarray, shape (*S_k).
    output : blob
        ``vals`` : ndarray, shape (*T), written by ``f``; ``diffs`` : ndarray, shape (*T), the
        upstream gradient.
    h : float
        Step.

    Returns
    -------
    list of ndarray
        One gradient per input blob, shape (*S_k), dtype of its ``diffs``.

    Notes
    -----
    .. math::
        \\frac{\\partial L}{\\partial v_i} \\approx
        \\sum_j \\frac{o_j(v + h e_i) - o_j(v - h e_i)}{2h}\\, \\mathrm{diffs}_j
    """
    args = (*inputs, output)

    def run(_: Array) -> Array:
        f(*args)
        return np.asarray(output.vals)

    grads = []
    for blob in inputs:
        grad = np.zeros_like(blob.diffs)
        for ix in _indices(blob.vals):
            plus, minus = _plus_minus(run, blob.vals, ix, h)
            grad[ix] = np.sum((plus - minus) * output.diffs) / (2.0 * h)
        grads.append(grad)
    return grads


def eval_numerical_gradient_net(
    net: Any, inputs: Sequence[Any], output: Any, h: float = 1e-5
) -> list[Array]:
    """:func:`eval_numerical_gradient_blobs` for a net whose ``forward()`` fills ``output``.

    Parameters
    ----------
    net : object
        Has ``forward()``, reading the input blobs and writing ``output.vals``.
    inputs : sequence of blob
        Input blobs (``vals``, ``diffs`` : ndarray, shape (*S_k)).
    output : blob
        Output blob (``vals``, ``diffs`` : ndarray, shape (*T)).
    h : float
        Step.

    Returns
    -------
    list of ndarray
        One gradient per input blob, shape (*S_k).

    Notes
    -----
    Same centred difference as :func:`eval_numerical_gradient_blobs`.
    """
    return eval_numerical_gradient_blobs(lambda *_: net.forward(), inputs, output, h=h)


def grad_check_sparse(
    f: Callable[[Array], Any], x: Array, analytic_grad: Array, num_checks: int = 10, h: float = 1e-5
) -> list[float]:
    """Compare an analytic gradient with centred differences at a few random elements.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray, shape (*S)
        Point of evaluation; perturbed in place and restored.
    analytic_grad : ndarray, shape (*S)
        The gradient to check.
    num_checks : int
        Number of sampled elements (with replacement; ``random.randrange`` per axis).
    h : float
        Step.

    Returns
    -------
    list of float
        The relative error at each sampled element (the starters return nothing; each line is
        also printed in their format).

    Notes
    -----
    .. math:: e = \\frac{|g_{num} - g_{ana}|}{|g_{num}| + |g_{ana}|}

    (reported as 0 when both are 0).
    """
    errors = []
    for _ in range(num_checks):
        ix = tuple(random.randrange(n) for n in x.shape)  # noqa: S311 - the starters' sampler
        plus, minus = _plus_minus(f, x, ix, h)
        numeric = (plus - minus) / (2 * h)
        analytic = analytic_grad[ix]
        denom = abs(numeric) + abs(analytic)
        error = float(abs(numeric - analytic) / denom) if denom else 0.0
        print(
            "numerical: %f analytic: %f, relative error: %e"  # noqa: UP031 - starters' format
            % (numeric, analytic, error)
        )
        errors.append(error)
    return errors


def _indices(x: Array) -> Iterator[tuple[int, ...]]:
    """Multi-indices of ``x`` in ``np.nditer`` order (the starters' visiting order)."""
    it = np.nditer(x, flags=["multi_index", "zerosize_ok"])
    while not it.finished:
        yield it.multi_index
        it.iternext()
