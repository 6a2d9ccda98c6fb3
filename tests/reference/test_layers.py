"""reference.layers: gradient checks, train/test behaviour, the dropout RNG contract, and the
notebook numbers of variants.md §2.4, §3.4, §3b.5 and §6.4 replayed cell by cell."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reference import layers as L
from tests.reference.conftest import (
    abs_error,
    numeric_gradient,
    numeric_gradient_array,
    rel_error,
    same_rng_state,
    state_after,
)

SEEDS = [0, 7, 231]


def _grad_error(analytic: np.ndarray, f: Any, x: np.ndarray, dout: np.ndarray) -> float:
    """rel_error of an analytic gradient against the centred difference of ``sum(f(x) * dout)``."""
    return rel_error(analytic, numeric_gradient_array(f, x, dout))


def _relu_net_output(seed: int, n: int, d1: int, d2: int, d3: int) -> tuple[np.ndarray, ...]:
    """The BN/LN notebook cells' data: ``a = relu(X W1) W2`` (X, W1, W2 drawn in that order)."""
    np.random.seed(seed)
    X = np.random.randn(n, d1)
    W1 = np.random.randn(d1, d2)
    W2 = np.random.randn(d2, d3)
    return np.maximum(0, X.dot(W1)).dot(W2), W1, W2


# ------------------------------------------------------------------------------------------------
# affine / relu


def test_affine_forward_notebook_fixture() -> None:
    """variants.md §3.4 / §3b.5 item 1: printed correct_out, error [derived] 9.7698e-10."""
    x = np.linspace(-0.1, 0.5, num=2 * 120).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=120 * 3).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out, _ = L.affine_forward(x, w, b)
    correct_out = np.array(
        [[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]]
    )
    assert out.shape == (2, 3)
    error = rel_error(out, correct_out)
    assert abs(error - 9.769847728806635e-10) <= 1e-12  # ST20's printout, an exact replay
    assert error < 1e-9  # "difference should be less than 1e-9" (U18)


def test_relu_forward_notebook_fixture() -> None:
    """variants.md §3.4 / §3b.5 item 1: printed correct_out, error [derived] 4.99999979802e-08."""
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, cache = L.relu_forward(x)
    correct_out = np.array(
        [
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.04545455, 0.13636364],
            [0.22727273, 0.31818182, 0.40909091, 0.5],
        ]
    )
    assert cache is x
    assert abs(rel_error(out, correct_out) - 4.999999798022158e-08) <= 1e-12


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("x_shape", "m"), [((10, 2, 3), 5), ((4, 5), 3), ((2, 3, 2, 2), 4)])
def test_affine_backward(seed: int, x_shape: tuple[int, ...], m: int) -> None:
    """(10, 2, 3) -> 5 is the notebook's cell ("around e-10 or less"); dx keeps x's shape."""
    rng = np.random.RandomState(seed)
    x = rng.randn(*x_shape)
    d = int(np.prod(x_shape[1:]))
    w, b, dout = rng.randn(d, m), rng.randn(m), rng.randn(x_shape[0], m)
    out, cache = L.affine_forward(x, w, b)
    assert out.shape == (x_shape[0], m)
    dx, dw, db = L.affine_backward(dout, cache)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    assert _grad_error(dx, lambda v: L.affine_forward(v, w, b)[0], x, dout) < 1e-8
    assert _grad_error(dw, lambda v: L.affine_forward(x, v, b)[0], w, dout) < 1e-8
    assert _grad_error(db, lambda v: L.affine_forward(x, w, v)[0], b, dout) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(10, 10), (3, 4, 5)])
def test_relu_backward(seed: int, shape: tuple[int, ...]) -> None:
    rng = np.random.RandomState(seed)
    x = rng.randn(*shape)
    x[np.abs(x) < 1e-4] = 0.5  # keep the centred difference off the kink
    dout = rng.randn(*shape)
    dx = L.relu_backward(dout, L.relu_forward(x)[1])
    assert _grad_error(dx, lambda v: L.relu_forward(v)[0], x, dout) < 1e-10


def test_relu_backward_is_zero_at_the_kink() -> None:
    x = np.array([[-1.0, 0.0, 2.0]])
    assert np.array_equal(L.relu_backward(np.ones_like(x), x), [[0.0, 0.0, 1.0]])


# ------------------------------------------------------------------------------------------------
# loss layers


def test_loss_layers_notebook_values() -> None:
    """variants.md §3b.5 item 2: svm_loss then softmax_loss on the same seed-231 x, y."""
    np.random.seed(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    svm, dx_svm = L.svm_loss(x, y)
    softmax, dx_softmax = L.softmax_loss(x, y)
    assert abs(svm - 8.999602749096233) <= 1e-12
    assert abs(softmax - 2.302545844500738) <= 1e-12
    assert rel_error(dx_svm, numeric_gradient(lambda v: L.svm_loss(v, y)[0], x)) < 1e-8
    assert rel_error(dx_softmax, numeric_gradient(lambda v: L.softmax_loss(v, y)[0], x)) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("n", "c"), [(8, 5), (3, 10), (1, 2)])
@pytest.mark.parametrize("loss", [L.softmax_loss, L.svm_loss], ids=["softmax", "svm"])
def test_loss_gradients(seed: int, n: int, c: int, loss: Any) -> None:
    rng = np.random.RandomState(seed)
    x = rng.randn(n, c)
    y = rng.randint(c, size=n)
    value, dx = loss(x, y)
    assert isinstance(value, float) and dx.shape == x.shape
    assert rel_error(dx, numeric_gradient(lambda v: loss(v, y)[0], x)) < 1e-7


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_loss_matches_definition_and_is_stable(seed: int) -> None:
    rng = np.random.RandomState(seed)
    x, y = rng.randn(6, 4), rng.randint(4, size=6)
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    loss, dx = L.softmax_loss(x, y)
    assert loss == pytest.approx(-np.log(probs[np.arange(6), y]).mean(), rel=1e-14)
    assert np.allclose(dx.sum(axis=1), 0, atol=1e-15)
    # A huge common shift changes nothing and must not overflow (warnings are errors here).
    big_loss, big_dx = L.softmax_loss(x + 1e4, y)
    assert big_loss == pytest.approx(loss, rel=1e-10)
    np.testing.assert_allclose(big_dx, dx, atol=1e-12)


def test_svm_loss_by_hand() -> None:
    x = np.array([[3.0, 1.0, 2.5], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    loss, dx = L.svm_loss(x, y)
    # row 0: margins (-, 1 - 3 + 1 = -1 -> 0, 2.5 - 3 + 1 = 0.5); row 1: 1 and 1.
    assert loss == pytest.approx((0.5 + 2.0) / 2)
    np.testing.assert_allclose(dx, np.array([[-1.0, 0.0, 1.0], [1.0, 1.0, -2.0]]) / 2)


# ------------------------------------------------------------------------------------------------
# batch normalization


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(4, 5), (10, 3), (3, 6)])
@pytest.mark.parametrize(
    "backward", [L.batchnorm_backward, L.batchnorm_backward_alt], ids=["staged", "alt"]
)
def test_batchnorm_backward(seed: int, shape: tuple[int, int], backward: Any) -> None:
    """The notebook cell is (4, 5), seed 231, x = 5 randn + 12: "between 1e-13 and 1e-8"."""
    np.random.seed(seed)
    n, d = shape
    x = 5 * np.random.randn(n, d) + 12
    gamma, beta, dout = np.random.randn(d), np.random.randn(d), np.random.randn(n, d)
    bn_param = {"mode": "train"}

    def f(xv: np.ndarray, g: np.ndarray, bv: np.ndarray) -> np.ndarray:
        return L.batchnorm_forward(xv, g, bv, bn_param)[0]

    _, cache = L.batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = backward(dout, cache)
    assert (dx.shape, dgamma.shape, dbeta.shape) == ((n, d), (d,), (d,))
    assert _grad_error(dx, lambda v: f(v, gamma, beta), x, dout) < 1e-7
    assert _grad_error(dgamma, lambda v: f(x, v, beta), gamma.copy(), dout) < 1e-9
    assert _grad_error(dbeta, lambda v: f(x, gamma, v), beta.copy(), dout) < 1e-9


def test_batchnorm_backward_notebook_cell() -> None:
    """BatchNormalization.ipynb backward cell exactly (seed 231, N, D = 4, 5)."""
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta, dout = np.random.randn(D), np.random.randn(D), np.random.randn(N, D)
    bn_param = {"mode": "train"}
    _, cache = L.batchnorm_forward(x, gamma, beta, bn_param)
    dx, _, _ = L.batchnorm_backward(dout, cache)
    fx = lambda v: L.batchnorm_forward(v, gamma, beta, bn_param)[0]  # noqa: E731 (the cell's)
    assert 1e-13 <= _grad_error(dx, fx, x, dout) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(100, 500), (4, 5), (2, 1)])
def test_batchnorm_backward_alt_equals_staged(seed: int, shape: tuple[int, int]) -> None:
    """(100, 500) is the notebook's alt-backward cell."""
    np.random.seed(seed)
    n, d = shape
    x = 5 * np.random.randn(n, d) + 12
    gamma, beta, dout = np.random.randn(d), np.random.randn(d), np.random.randn(n, d)
    _, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    staged, alt = L.batchnorm_backward(dout, cache), L.batchnorm_backward_alt(dout, cache)
    for a, b in zip(staged, alt, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


def test_batchnorm_train_time_notebook_cell() -> None:
    """variants.md §2.4 / §3b.5 item 1 (seed 231): before-BN stats [derived], after-BN behaviour."""
    a, _, _ = _relu_net_output(231, 200, 50, 60, 3)
    np.testing.assert_allclose(a.mean(axis=0), [-2.3814598, -13.18038246, 1.91780462], atol=5.01e-9)
    np.testing.assert_allclose(a.std(axis=0), [27.18502186, 34.21455511, 37.68611762], atol=5.01e-9)
    out, _ = L.batchnorm_forward(a, np.ones(3), np.zeros(3), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    out, _ = L.batchnorm_forward(a, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, rtol=1e-13)
    # The stds fall short of gamma only by the eps in the denominator (printed 0.99999999 ...).
    var = a.var(axis=0)
    np.testing.assert_allclose(out.std(axis=0), gamma * np.sqrt(var / (var + 1e-5)), rtol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [0.99999999, 1.99999999, 2.99999999], atol=5.01e-9)


def _bn_test_time_cell(seed: int) -> np.ndarray:
    """Test-time cell: W1, W2, then 50 train calls on fresh X sharing one bn_param, then test."""
    np.random.seed(seed)
    N, D1, D2, D3 = 200, 50, 60, 3
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    bn_param: dict[str, Any] = {"mode": "train"}
    gamma, beta = np.ones(D3), np.zeros(D3)
    for _ in range(50):
        X = np.random.randn(N, D1)
        L.batchnorm_forward(np.maximum(0, X.dot(W1)).dot(W2), gamma, beta, bn_param)
    bn_param["mode"] = "test"
    X = np.random.randn(N, D1)
    a_norm, cache = L.batchnorm_forward(np.maximum(0, X.dot(W1)).dot(W2), gamma, beta, bn_param)
    assert cache is None
    return a_norm


def test_batchnorm_test_time_notebook_cell() -> None:
    """variants.md §2.4 / §3b.5 item 2: means/stds [derived], printed to 8 decimals."""
    a_norm = _bn_test_time_cell(231)
    means, stds = [-0.03927354, -0.04349152, -0.10452688], [1.01531428, 1.01238373, 0.97819988]
    np.testing.assert_allclose(a_norm.mean(axis=0), means, atol=5.01e-9)
    np.testing.assert_allclose(a_norm.std(axis=0), stds, atol=5.01e-9)


def test_cs182_expected_a_norm() -> None:
    """variants.md §6.4 item 2: the same cell under seed 7; abs_error < 1e-8 (seed 003 4.34e-09)."""
    expected_a_norm = np.array(
        [
            [-7.37859885e-01, 2.10050591e00, -3.24286480e-01],
            [2.02781031e00, 1.92492178e-01, 1.54852388e00],
            [5.44242949e-01, 1.07389911e00, 8.06464618e-01],
            [-2.25599789e-02, 7.64501325e-01, -3.03045313e-01],
            [-9.74592587e-01, 6.01731799e-01, -6.57200019e-03],
        ]
    )
    error = abs_error(_bn_test_time_cell(7)[:5], expected_a_norm)
    assert error < 1e-8
    assert abs(error - 4.3424073226105975e-09) <= 1e-12


def test_cs182_batchnorm_backward_chain() -> None:
    """variants.md §6.4 item 3: the backward cell run after the seed-7 test-time cell.

    The notebook's cells run in order from cell 2 (which reseeds with 7) without the optional
    alt cell; its lambdas take ``gamma``/``beta`` as their argument (perturbed in place).
    Seed 003 printed dx 2.0718949604593364e-09, dgamma 2.3439059333191323e-12, dbeta
    2.6356334174796573e-12.
    """
    _bn_test_time_cell(7)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta, dout = np.random.randn(D), np.random.randn(D), np.random.randn(N, D)
    bn_param = {"mode": "train"}
    dx_num = numeric_gradient_array(
        lambda xx: L.batchnorm_forward(xx, gamma, beta, bn_param)[0], x, dout
    )
    da_num = numeric_gradient_array(
        lambda g: L.batchnorm_forward(x, g, beta, bn_param)[0], gamma, dout
    )
    db_num = numeric_gradient_array(
        lambda b: L.batchnorm_forward(x, gamma, b, bn_param)[0], beta, dout
    )
    _, cache = L.batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)
    printed = {
        "dx": 2.0718949604593364e-09,
        "dgamma": 2.3439059333191323e-12,
        "dbeta": 2.6356334174796573e-12,
    }
    errors = {
        "dx": rel_error(dx_num, dx),
        "dgamma": rel_error(da_num, dgamma),
        "dbeta": rel_error(db_num, dbeta),
    }
    for key, value in printed.items():
        assert abs(errors[key] - value) <= 1e-12, (key, errors[key])
        assert errors[key] < 1e-8  # "between 1e-13 and 1e-8" (the modern cell's comment)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("momentum", "eps"), [(None, None), (0.5, 1e-3)])
def test_batchnorm_running_statistics(seed: int, momentum: float | None, eps: float | None) -> None:
    rng = np.random.RandomState(seed)
    x1, x2 = 3 * rng.randn(8, 4) + 1, rng.randn(8, 4) - 2
    gamma, beta = rng.randn(4), rng.randn(4)
    bn_param: dict[str, Any] = {"mode": "train"}
    if momentum is not None:
        bn_param.update(momentum=momentum, eps=eps)
    m = 0.9 if momentum is None else momentum
    e = 1e-5 if eps is None else eps
    L.batchnorm_forward(x1, gamma, beta, bn_param)
    L.batchnorm_forward(x2, gamma, beta, bn_param)
    # Defaults start at zero; the update uses the biased (divide-by-N) batch variance.
    expected_mean = m * (1 - m) * x1.mean(axis=0) + (1 - m) * x2.mean(axis=0)
    expected_var = m * (1 - m) * x1.var(axis=0) + (1 - m) * x2.var(axis=0)
    np.testing.assert_allclose(bn_param["running_mean"], expected_mean, rtol=1e-13)
    np.testing.assert_allclose(bn_param["running_var"], expected_var, rtol=1e-13)

    bn_param["mode"] = "test"
    before = (bn_param["running_mean"].copy(), bn_param["running_var"].copy())
    out, cache = L.batchnorm_forward(x1, gamma, beta, bn_param)
    expected = gamma * (x1 - before[0]) / np.sqrt(before[1] + e) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    assert cache is None
    np.testing.assert_array_equal(bn_param["running_mean"], before[0])
    np.testing.assert_array_equal(bn_param["running_var"], before[1])


def test_batchnorm_train_output_normalizes_with_batch_statistics() -> None:
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    out, _ = L.batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "train", "eps": 0.0})
    np.testing.assert_allclose(out, [[-1.0, -1.0], [1.0, 1.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_running_statistics_default_to_zeros_of_x_dtype(dtype: Any) -> None:
    x = np.arange(6, dtype=dtype).reshape(3, 2)
    bn_param: dict[str, Any] = {"mode": "test"}
    out, _ = L.batchnorm_forward(x, np.ones(2, dtype), np.zeros(2, dtype), bn_param)
    for key in ("running_mean", "running_var"):
        assert bn_param[key].dtype == dtype
        np.testing.assert_array_equal(bn_param[key], 0)
    np.testing.assert_allclose(out, x / np.sqrt(1e-5), rtol=1e-6)


def test_batchnorm_rejects_bad_mode_and_test_cache() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="mode"):
        L.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "eval"})
    with pytest.raises(KeyError):
        L.batchnorm_forward(x, np.ones(3), np.zeros(3), {})
    _, cache = L.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "test"})
    for backward in (L.batchnorm_backward, L.batchnorm_backward_alt):
        with pytest.raises(ValueError, match="train-mode"):
            backward(x, cache)


# ------------------------------------------------------------------------------------------------
# layer normalization


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(4, 5), (3, 8), (1, 4)])
def test_layernorm_backward(seed: int, shape: tuple[int, int]) -> None:
    """(4, 5) with ln_param = {} is the notebook cell ("between 1e-12 and 1e-8")."""
    np.random.seed(seed)
    n, d = shape
    x = 5 * np.random.randn(n, d) + 12
    gamma, beta, dout = np.random.randn(d), np.random.randn(d), np.random.randn(n, d)

    def f(xv: np.ndarray, g: np.ndarray, bv: np.ndarray) -> np.ndarray:
        return L.layernorm_forward(xv, g, bv, {})[0]

    dx, dgamma, dbeta = L.layernorm_backward(dout, L.layernorm_forward(x, gamma, beta, {})[1])
    assert (dx.shape, dgamma.shape, dbeta.shape) == ((n, d), (d,), (d,))
    assert _grad_error(dx, lambda v: f(v, gamma, beta), x, dout) < 1e-7
    assert _grad_error(dgamma, lambda v: f(x, v, beta), gamma.copy(), dout) < 1e-9
    assert _grad_error(dbeta, lambda v: f(x, gamma, v), beta.copy(), dout) < 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_layernorm_is_batchnorm_of_the_transpose(seed: int) -> None:
    """Per-row normalization; the ``mode`` key is ignored and no running statistics appear."""
    rng = np.random.RandomState(seed)
    x = rng.randn(5, 7)
    ln_param = {"mode": "test", "eps": 1e-3}
    out, _ = L.layernorm_forward(x, np.ones(7), np.zeros(7), ln_param)
    bn_out, _ = L.batchnorm_forward(x.T, np.ones(5), np.zeros(5), {"mode": "train", "eps": 1e-3})
    np.testing.assert_allclose(out, bn_out.T, rtol=1e-12, atol=1e-14)
    assert ln_param == {"mode": "test", "eps": 1e-3}


def test_layernorm_forward_notebook_cell() -> None:
    """variants.md §3b.5 item 6 (seed 231, 4 x 50 -> 60 -> 3; called with {'mode': 'train'})."""
    a, _, _ = _relu_net_output(231, 4, 50, 60, 3)
    means = [-59.06673243, -47.60782686, -43.31137368, -26.40991744]
    np.testing.assert_allclose(a.mean(axis=1), means, atol=5.01e-9)
    stds = [10.07429373, 28.39478981, 35.28360729, 4.01831507]
    np.testing.assert_allclose(a.std(axis=1), stds, atol=5.01e-9)
    out, _ = L.layernorm_forward(a, np.ones(3), np.zeros(3), {"mode": "train"})
    stds = [0.99999995, 0.99999999, 1.0, 0.99999969]
    np.testing.assert_allclose(out.std(axis=1), stds, atol=5.01e-9)
    out, _ = L.layernorm_forward(a, 3 * np.ones(3), 5 * np.ones(3), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=1), 5, rtol=1e-13)
    np.testing.assert_allclose(
        out.std(axis=1), [2.99999985, 2.99999998, 2.99999999, 2.99999907], atol=5.01e-9
    )


# ------------------------------------------------------------------------------------------------
# dropout: the RNG contract (variants.md §9.1-9.2)


class _RandSpy:
    """Wraps ``np.random.rand`` to record the shapes it is called with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int, ...]] = []
        real = np.random.rand

        def rand(*shape: int) -> Any:
            self.calls.append(shape)
            return real(*shape)

        monkeypatch.setattr(np.random, "rand", rand)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(500, 500), (3, 4), (2, 3, 4), (7,)])
@pytest.mark.parametrize("p", [0.25, 0.5, 1.0])
def test_dropout_train_draws_exactly_one_rand(
    seed: int, shape: tuple[int, ...], p: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    np.random.seed(seed)
    x = np.random.randn(*shape) + 10
    start = np.random.get_state()
    expected_state = state_after(None, shape)
    spy = _RandSpy(monkeypatch)
    out, (param, mask) = L.dropout_forward(x, {"mode": "train", "p": p})
    assert spy.calls == [shape]
    assert same_rng_state(np.random.get_state(), expected_state)
    np.random.set_state(start)
    u = np.random.rand(*shape)  # the spy records it too; compare with the contract's formula
    np.testing.assert_array_equal(mask, (u < p) / p)
    np.testing.assert_array_equal(out, x * (u < p) / p)
    assert param["mode"] == "train" and out.shape == x.shape


@pytest.mark.parametrize("with_seed", [False, True])
def test_dropout_test_mode_draws_nothing(with_seed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.randn(4, 6)
    param: dict[str, Any] = {"mode": "test", "p": 0.3}
    if with_seed:
        param["seed"] = 123
    expected_state = state_after(123) if with_seed else np.random.get_state()
    spy = _RandSpy(monkeypatch)
    out, (cached_param, mask) = L.dropout_forward(x, param)
    assert spy.calls == [] and mask is None and cached_param is param
    np.testing.assert_array_equal(out, x)
    # A seed reseeds even in test mode: the stream is left at the fresh seed's start.
    assert same_rng_state(np.random.get_state(), expected_state)


@pytest.mark.parametrize("seed", [0, 123])
def test_dropout_seed_reseeds_every_call(seed: int) -> None:
    x = np.random.randn(6, 5)
    param = {"mode": "train", "p": 0.5, "seed": seed}
    out1, (_, mask1) = L.dropout_forward(x, param)
    np.random.rand(3)  # moving the stream in between does not matter
    out2, (_, mask2) = L.dropout_forward(x, param)
    np.testing.assert_array_equal(mask1, mask2)
    np.testing.assert_array_equal(out1, out2)
    assert same_rng_state(np.random.get_state(), state_after(seed, x.shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout_keeps_dtype(dtype: Any, mode: str) -> None:
    x = np.random.randn(5, 4).astype(dtype)
    out, cache = L.dropout_forward(x, {"mode": mode, "p": 0.7, "seed": 1})
    assert out.dtype == dtype
    dx = L.dropout_backward(np.ones_like(x), cache)
    assert dx.dtype == dtype


@pytest.mark.parametrize(
    "param", [{"mode": "train", "p": 0.0}, {"mode": "train", "p": 1.5}, {"mode": "eval", "p": 0.5}]
)
def test_dropout_rejects_bad_parameters_before_touching_the_rng(param: dict[str, Any]) -> None:
    before = np.random.get_state()
    with pytest.raises(ValueError):
        L.dropout_forward(np.ones((2, 2)), {**param, "seed": 3})
    assert same_rng_state(np.random.get_state(), before)


def test_dropout_forward_notebook_cell() -> None:
    """variants.md §2.4 Dropout item 1 (= §3b.5): per p one train call, then one test call.

    The printed input mean and the 0.7 train mean are reproduced to 1-2 ulp (the sheet notes
    the last digit differs; numpy's pairwise summation order is version-dependent).
    """
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    assert abs(x.mean() - 10.000207878477502) <= 1e-13
    expected = {
        0.25: (10.014059116977283, 0.749784),
        0.4: (9.977917658761159, 0.600796),
        0.7: (9.987811912159426, 0.30074),
    }
    for p, (train_mean, zero_fraction) in expected.items():
        out, _ = L.dropout_forward(x, {"mode": "train", "p": p})
        out_test, _ = L.dropout_forward(x, {"mode": "test", "p": p})
        assert abs(out.mean() - train_mean) <= 1e-13, p
        assert (out == 0).mean() == zero_fraction, p
        assert np.array_equal(out_test, x) and (out_test == 0).mean() == 0.0


def test_dropout_forward_drop_semantics_notebook_cell() -> None:
    """variants.md §3.4: the 2017 cell (drop p 0.3, 0.6, 0.75) with keep = 1 - p, [derived]."""
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    expected = {
        0.3: (9.990848162756777, 0.300672),
        0.6: (9.977917658761159, 0.600796),
        0.75: (9.991640741515118, 0.750232),
    }
    for p, (train_mean, zero_fraction) in expected.items():
        out, _ = L.dropout_forward(x, {"mode": "train", "p": 1 - p})
        L.dropout_forward(x, {"mode": "test", "p": 1 - p})
        assert abs(out.mean() - train_mean) <= 1e-12, p
        assert (out == 0).mean() == zero_fraction, p


def test_dase_dropout_mask_scratch_cell() -> None:
    """variants.md §7.4 item 3: after seed 231, rand(2, 3) and keep 0.8 give this mask."""
    np.random.seed(231)
    u = np.random.rand(2, 3)
    np.testing.assert_allclose(
        u,
        [[0.78149404, 0.58420912, 0.42671007], [0.31534469, 0.82688829, 0.90342948]],
        rtol=0,
        atol=5.01e-9,
    )
    np.random.seed(231)
    out, (_, mask) = L.dropout_forward(np.ones((2, 3)), {"mode": "train", "p": 0.8})
    expected = np.array([[1.25, 1.25, 1.25], [1.25, 0.0, 0.0]])
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(out, expected)


def test_dropout_backward_notebook_cell() -> None:
    """variants.md §2.4 Dropout item 2: relative error 5.44560814873387e-11 ("e-10 or less")."""
    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = {"mode": "train", "p": 0.2, "seed": 123}
    _, cache = L.dropout_forward(x, dropout_param)
    dx = L.dropout_backward(dout, cache)
    dx_num = numeric_gradient_array(lambda xx: L.dropout_forward(xx, dropout_param)[0], x, dout)
    error = rel_error(dx, dx_num)
    assert error < 1e-10
    assert abs(error - 5.44560814873387e-11) <= 1e-12


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(4, 7), (10, 10), (1, 5), (3, 4, 5), (6,)])
def test_dropout_backward(seed: int, p: float, shape: tuple[int, ...]) -> None:
    """Seeded dropout is a fixed linear map, so the centred difference checks the mask."""
    rng = np.random.RandomState(seed)
    x, dout = rng.randn(*shape) + 10, rng.randn(*shape)
    param = {"mode": "train", "p": p, "seed": seed}
    _, cache = L.dropout_forward(x, param)
    dx = L.dropout_backward(dout, cache)
    assert dx.shape == shape
    assert _grad_error(dx, lambda v: L.dropout_forward(v, param)[0], x, dout) < 1e-9
    _, test_cache = L.dropout_forward(x, {"mode": "test", "p": p})
    assert L.dropout_backward(dout, test_cache) is dout
