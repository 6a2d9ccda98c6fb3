"""Every backward pass of the reference against centred differences of its forward (float64)."""

from __future__ import annotations

import numpy as np
import pytest

from reference import layer_utils as U
from reference import layers as L
from reference.fc_net import FullyConnectedNet, TwoLayerNet
from reference.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

SEEDS = [0, 1, 231]


def numeric(f, x: np.ndarray, dout: np.ndarray) -> np.ndarray:
    return eval_numerical_gradient_array(f, x, dout)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("x_shape", [(4, 5), (3, 2, 3), (2, 2, 2, 2)])
def test_affine(seed: int, x_shape: tuple[int, ...]) -> None:
    rng = np.random.RandomState(seed)
    x = rng.randn(*x_shape)
    d = int(np.prod(x_shape[1:]))
    w, b = rng.randn(d, 3), rng.randn(3)
    dout = rng.randn(x_shape[0], 3)
    _, cache = L.affine_forward(x, w, b)
    dx, dw, db = L.affine_backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx, numeric(lambda v: L.affine_forward(v, w, b)[0], x, dout)) < 1e-8
    assert rel_error(dw, numeric(lambda v: L.affine_forward(x, v, b)[0], w, dout)) < 1e-8
    assert rel_error(db, numeric(lambda v: L.affine_forward(x, w, v)[0], b, dout)) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
def test_relu(seed: int) -> None:
    rng = np.random.RandomState(seed)
    x = rng.randn(6, 7) + 0.01  # away from the kink
    x[np.abs(x) < 1e-3] = 0.5
    dout = rng.randn(*x.shape)
    dx = L.relu_backward(dout, L.relu_forward(x)[1])
    assert rel_error(dx, numeric(lambda v: L.relu_forward(v)[0], x, dout)) < 1e-9


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("loss", [L.softmax_loss, L.svm_loss])
def test_losses(seed: int, loss) -> None:
    rng = np.random.RandomState(seed)
    x = rng.randn(8, 5)
    y = rng.randint(5, size=8)
    _, dx = loss(x, y)
    assert rel_error(dx, eval_numerical_gradient(lambda v: loss(v, y)[0], x, verbose=False)) < 1e-7


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(4, 5), (10, 3)])
@pytest.mark.parametrize("backward", [L.batchnorm_backward, L.batchnorm_backward_alt])
def test_batchnorm(seed: int, shape: tuple[int, int], backward) -> None:
    rng = np.random.RandomState(seed)
    x = 5 * rng.randn(*shape) + 12
    gamma, beta = rng.randn(shape[1]), rng.randn(shape[1])
    dout = rng.randn(*shape)

    def f(xv, g, bv):
        return L.batchnorm_forward(xv, g, bv, {"mode": "train"})[0]

    _, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)
    assert rel_error(dx, numeric(lambda v: f(v, gamma, beta), x, dout)) < 1e-6
    assert rel_error(dgamma, numeric(lambda v: f(x, v, beta), gamma.copy(), dout)) < 1e-8
    assert rel_error(dbeta, numeric(lambda v: f(x, gamma, v), beta.copy(), dout)) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_alt_equals_staged(seed: int) -> None:
    rng = np.random.RandomState(seed)
    x = 5 * rng.randn(100, 50) + 12
    gamma, beta, dout = rng.randn(50), rng.randn(50), rng.randn(100, 50)
    _, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for a, b in zip(L.batchnorm_backward(dout, cache), L.batchnorm_backward_alt(dout, cache)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(4, 5), (3, 8)])
def test_layernorm(seed: int, shape: tuple[int, int]) -> None:
    rng = np.random.RandomState(seed)
    x = 5 * rng.randn(*shape) + 12
    gamma, beta, dout = rng.randn(shape[1]), rng.randn(shape[1]), rng.randn(*shape)

    def f(xv, g, bv):
        return L.layernorm_forward(xv, g, bv, {})[0]

    dx, dgamma, dbeta = L.layernorm_backward(dout, L.layernorm_forward(x, gamma, beta, {})[1])
    assert rel_error(dx, numeric(lambda v: f(v, gamma, beta), x, dout)) < 1e-6
    assert rel_error(dgamma, numeric(lambda v: f(x, v, beta), gamma.copy(), dout)) < 1e-8
    assert rel_error(dbeta, numeric(lambda v: f(x, gamma, v), beta.copy(), dout)) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout(seed: int) -> None:
    rng = np.random.RandomState(seed)
    x, dout = rng.randn(10, 10) + 10, rng.randn(10, 10)
    param = {"mode": "train", "p": 0.3, "seed": 123}
    dx = L.dropout_backward(dout, L.dropout_forward(x, param)[1])
    assert rel_error(dx, numeric(lambda v: L.dropout_forward(v, param)[0], x, dout)) < 1e-9


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("drop", [None, {"mode": "train", "p": 0.6, "seed": 5}])
def test_hidden_block(seed: int, normalization: str | None, drop: dict | None) -> None:
    rng = np.random.RandomState(seed)
    x, w, b = rng.randn(4, 6), rng.randn(6, 5), rng.randn(5)
    gamma, beta, dout = rng.randn(5), rng.randn(5), rng.randn(4, 5)

    def f(xv):
        return U.hidden_forward(xv, w, b, gamma, beta, {"mode": "train"}, normalization, drop)[0]

    _, cache = U.hidden_forward(x, w, b, gamma, beta, {"mode": "train"}, normalization, drop)
    dx = U.hidden_backward(dout, cache)[0]
    assert rel_error(dx, numeric(f, x, dout)) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reg", [0.0, 0.7])
@pytest.mark.parametrize(("normalization", "keep"), [(None, 1), ("batchnorm", 1), ("layernorm", 1), (None, 0.6),
                                                     ("batchnorm", 0.5)])
def test_fully_connected_net(seed: int, reg: float, normalization: str | None, keep: float) -> None:
    np.random.seed(seed)
    N, D, H1, H2, C = 3, 7, 6, 5, 4
    X, y = np.random.randn(N, D), np.random.randint(C, size=N)
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-1, dtype=np.float64,
                              normalization=normalization, dropout_keep_ratio=keep, seed=123)
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name in sorted(model.params):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-6)
        # Absolute floor: with batchnorm, b1's gradient is zero analytically (the mean cancels it).
        np.testing.assert_allclose(grads[name], num, rtol=1e-4, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net(seed: int, reg: float) -> None:
    np.random.seed(seed)
    X, y = np.random.randn(3, 5), np.random.randint(7, size=3)
    model = TwoLayerNet(input_dim=5, hidden_dim=6, num_classes=7, weight_scale=1e-1, reg=reg)
    _, grads = model.loss(X, y)
    for name in sorted(model.params):
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False)
        assert rel_error(num, grads[name]) < 1e-6, name
