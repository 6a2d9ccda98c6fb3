"""reference.layer_utils: composites equal their parts, and their gradients are right."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reference import layer_utils as U
from reference import layers as L
from tests.reference.conftest import (
    assert_gradient_close,
    numeric_gradient_array,
    rel_error,
    same_rng_state,
    state_after,
)

SEEDS = [0, 7, 231]


def _inputs(seed: int, x_shape: tuple[int, ...], m: int) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(seed)
    d = int(np.prod(x_shape[1:]))
    return {
        "x": rng.randn(*x_shape),
        "w": rng.randn(d, m),
        "b": rng.randn(m),
        "gamma": 1 + 0.1 * rng.randn(m),
        "beta": rng.randn(m),
        "dout": rng.randn(x_shape[0], m),
    }


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("x_shape", "m"), [((2, 3, 4), 10), ((5, 6), 4)])
def test_affine_relu(seed: int, x_shape: tuple[int, ...], m: int) -> None:
    """((2, 3, 4), 10) is the notebook's affine_relu cell ("around e-10 or less")."""
    t = _inputs(seed, x_shape, m)
    x, w, b, dout = t["x"], t["w"], t["b"], t["dout"]
    out, cache = U.affine_relu_forward(x, w, b)
    np.testing.assert_array_equal(out, np.maximum(0, x.reshape(x.shape[0], -1) @ w + b))
    fc_cache, relu_cache = cache  # the starter's cache layout
    assert fc_cache[0] is x and relu_cache.shape == out.shape
    dx, dw, db = U.affine_relu_backward(dout, cache)
    assert dx.shape == x.shape
    for grad, index in ((dx, 0), (dw, 1), (db, 2)):

        def forward(v: np.ndarray, index: int = index) -> np.ndarray:
            a = [x, w, b]
            a[index] = v
            return U.affine_relu_forward(*a)[0]

        numeric = numeric_gradient_array(forward, [x, w, b][index].copy(), dout)
        assert rel_error(grad, numeric) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("x_shape", [(4, 6), (5, 2, 3)])
def test_affine_norm_relu(seed: int, normalization: str, x_shape: tuple[int, ...]) -> None:
    t = _inputs(seed, x_shape, 5)
    args = [t[k] for k in ("x", "w", "b", "gamma", "beta")]
    dout = t["dout"]

    def f(i: int) -> Any:
        def forward(v: np.ndarray) -> np.ndarray:
            a = list(args)
            a[i] = v
            return U.affine_norm_relu_forward(*a, {"mode": "train"}, normalization)[0]

        return forward

    norm_param: dict[str, Any] = {"mode": "train"}
    out, cache = U.affine_norm_relu_forward(*args, norm_param, normalization)
    norm_forward = L.batchnorm_forward if normalization == "batchnorm" else L.layernorm_forward
    a, _ = L.affine_forward(*args[:3])
    expected, _ = norm_forward(a, args[3], args[4], {"mode": "train"})
    np.testing.assert_array_equal(out, np.maximum(0, expected))
    # Batchnorm leaves its running statistics in the caller's dict; layernorm adds nothing.
    assert ("running_mean" in norm_param) == (normalization == "batchnorm")

    grads = U.affine_norm_relu_backward(dout, cache)
    for i, grad in enumerate(grads):
        assert grad.shape == args[i].shape
        assert_gradient_close(grad, numeric_gradient_array(f(i), args[i].copy(), dout), name=str(i))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("dropout", [None, {}, {"mode": "train", "p": 0.6, "seed": 5}])
def test_hidden_block(seed: int, normalization: str | None, dropout: dict[str, Any] | None) -> None:
    t = _inputs(seed, (4, 6), 5)
    args = [t[k] for k in ("x", "w", "b", "gamma", "beta")]
    dout = t["dout"]

    def block(*a: Any) -> tuple[np.ndarray, Any]:
        return U.affine_norm_relu_dropout_forward(*a, {"mode": "train"}, normalization, dropout)

    out, cache = block(*args)
    # Same output as the parts chained by hand (dropout reseeds, so its mask is reproducible).
    if normalization is None:
        expected, _ = U.affine_relu_forward(*args[:3])
    else:
        expected, _ = U.affine_norm_relu_forward(*args, {"mode": "train"}, normalization)
    if dropout:
        expected, _ = L.dropout_forward(expected, dropout)
    np.testing.assert_array_equal(out, expected)

    dx, dw, db, dgamma, dbeta = U.affine_norm_relu_dropout_backward(dout, cache)
    assert (dgamma is None) == (dbeta is None) == (normalization is None)
    grads = [dx, dw, db] + ([] if normalization is None else [dgamma, dbeta])
    for i, grad in enumerate(grads):

        def forward(v: np.ndarray, i: int = i) -> np.ndarray:
            a = list(args)
            a[i] = v
            return block(*a)[0]

        numeric = numeric_gradient_array(forward, args[i].copy(), dout)
        assert_gradient_close(grad, numeric, name=str(i))


@pytest.mark.parametrize("dropout", [None, {}])
def test_hidden_block_without_dropout_draws_nothing(dropout: dict[str, Any] | None) -> None:
    t = _inputs(0, (3, 4), 2)
    before = np.random.get_state()
    U.affine_norm_relu_dropout_forward(t["x"], t["w"], t["b"], dropout_param=dropout)
    assert same_rng_state(np.random.get_state(), before)


def test_hidden_block_with_dropout_draws_one_rand() -> None:
    t = _inputs(0, (3, 4), 2)
    expected = state_after(None, (3, 2))
    U.affine_norm_relu_dropout_forward(
        t["x"], t["w"], t["b"], t["gamma"], t["beta"], {}, "layernorm", {"mode": "train", "p": 0.5}
    )
    assert same_rng_state(np.random.get_state(), expected)


def test_bad_normalization_and_missing_scale_raise() -> None:
    t = _inputs(0, (3, 4), 2)
    with pytest.raises(ValueError, match="normalization"):
        U.affine_norm_relu_forward(t["x"], t["w"], t["b"], t["gamma"], t["beta"], {}, "groupnorm")
    with pytest.raises(ValueError, match="gamma and beta"):
        U.affine_norm_relu_dropout_forward(t["x"], t["w"], t["b"], normalization="layernorm")
