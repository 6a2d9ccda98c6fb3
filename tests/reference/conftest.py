"""Shared helpers for the reference tests: an independent float64 gradient oracle and RNG tools.

The numeric gradients here are written out on purpose instead of importing
``reference.gradient_check``: the oracle must not share code with what other tests check. They
follow the cs231n algorithm exactly (perturb in place, restore, centred difference), so the
notebooks' printed relative errors reproduce digit for digit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from numpy.typing import ArrayLike, NDArray

Float64 = NDArray[np.float64]


def rel_error(x: ArrayLike, y: ArrayLike) -> float:
    """The notebooks' ``rel_error``: ``max(|x - y| / max(1e-8, |x| + |y|))``."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def abs_error(x: ArrayLike, y: ArrayLike) -> float:
    """CS182's ``abs_error``: the largest absolute difference."""
    return float(np.max(np.abs(np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64))))


def assert_gradient_close(
    analytic: ArrayLike,
    numeric: ArrayLike,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    name: str = "",
) -> None:
    """Elementwise ``|analytic - numeric| <= atol + rtol * |numeric|``.

    ``rel_error`` alone cannot check a gradient that is analytically zero (e.g. the first bias
    under batch norm, cancelled by the mean): rounding noise of 1e-12 then gives a relative
    error near 1. The absolute floor covers that; ``atol`` 1e-8 is far above the ~1e-10 noise of
    a centred difference with h = 1e-5 on O(1) values, and far below any real mistake.
    """
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol, err_msg=name)


def numeric_gradient(f: Callable[[Float64], Any], x: Float64, h: float = 1e-5) -> Float64:
    """Centred-difference gradient of a scalar function at ``x`` (perturbed in place, restored).

    In-place perturbation lets ``f`` ignore its argument and read a shared array (e.g. one of
    ``model.params``), as the notebooks' lambdas do.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64, got {x.dtype}")
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        try:
            x[ix] = old + h
            plus = float(f(x))
            x[ix] = old - h
            minus = float(f(x))
        finally:
            x[ix] = old
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def numeric_gradient_array(
    f: Callable[[Float64], Any], x: Float64, dout: Float64, h: float = 1e-5
) -> Float64:
    """Centred-difference gradient of ``sum(f(x) * dout)`` for an array-valued ``f``."""
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64, got {x.dtype}")
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        try:
            x[ix] = old + h
            plus = np.array(f(x), dtype=np.float64)  # copy: f may return a view of x
            x[ix] = old - h
            minus = np.array(f(x), dtype=np.float64)
        finally:
            x[ix] = old
        grad[ix] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def same_rng_state(a: Any, b: Any) -> bool:
    """Whether two ``np.random.get_state()`` tuples describe the same legacy generator state."""
    return bool(a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:])


def state_after(seed: int | None, *shapes: tuple[int, ...]) -> Any:
    """The global RNG state after an optional ``seed`` and one ``rand(*shape)`` per shape.

    Restores the caller's state, so it can be used between the steps of a test.
    """
    saved = np.random.get_state()
    try:
        if seed is not None:
            np.random.seed(seed)
        for shape in shapes:
            np.random.rand(*shape)
        return np.random.get_state()
    finally:
        np.random.set_state(saved)


@pytest.fixture(autouse=True)
def _restore_global_rng() -> Iterator[None]:
    """The notebook replays reseed the global legacy RNG; do not leak that into other tests."""
    saved = np.random.get_state()
    yield
    np.random.set_state(saved)
