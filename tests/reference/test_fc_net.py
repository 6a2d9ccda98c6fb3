"""reference.fc_net: construction and RNG contract, gradients, train/test modes, and the
notebook numbers of variants.md §2.4, §3b.5, §6.4 and §10.1 replayed cell by cell."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reference.fc_net import FullyConnectedNet, TwoLayerNet
from reference.layers import batchnorm_forward
from tests.reference.conftest import (
    assert_gradient_close,
    numeric_gradient,
    rel_error,
    same_rng_state,
    state_after,
)

SEEDS = [0, 7, 231]
N, D, H1, H2, C = 2, 15, 20, 30, 10  # the notebooks' FC fixture


def _fc_fixture() -> tuple[np.ndarray, np.ndarray]:
    """``np.random.seed(231)``; X = randn(N, D); y = randint(C, size=(N,))."""
    np.random.seed(231)
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    return X, y


def _check_gradients(model: Any, X: np.ndarray, y: np.ndarray, h: float = 1e-5) -> dict[str, float]:
    """The notebooks' loop: numeric gradient of ``loss`` per parameter; returns rel_errors."""
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    errors = {}
    for name in sorted(grads):
        num = numeric_gradient(lambda _: model.loss(X, y)[0], model.params[name], h=h)
        assert grads[name].shape == model.params[name].shape
        assert_gradient_close(grads[name], num, rtol=1e-5, atol=1e-8, name=name)
        errors[name] = rel_error(num, grads[name])
    return errors


def _jitter_biases(model: Any, seed: int) -> None:
    """Nonzero biases: with the zero init, a sample whose hidden units are all dead gives
    pre-activations of exactly 0 in the next layer, i.e. a ReLU kink under the difference."""
    rng = np.random.RandomState(seed)
    for name, value in model.params.items():
        if name.startswith("b"):
            value += 0.1 * rng.randn(*value.shape)


# ------------------------------------------------------------------------------------------------
# TwoLayerNet (variants.md §10.1)

_CORRECT_SCORES = np.array(
    [
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
    ]
)


def test_two_layer_net_notebook_cell() -> None:
    """Seed 231, N, D, H, C = 3, 5, 50, 7, std 1e-3: the cell's asserts, the [derived] losses."""
    np.random.seed(231)
    n, d, h, c = 3, 5, 50, 7
    np.random.randn(n, d)  # X, replaced by linspace below
    np.random.randint(c, size=n)  # y, replaced below
    std = 1e-3
    model = TwoLayerNet(input_dim=d, hidden_dim=h, num_classes=c, weight_scale=std)
    p = model.params
    assert abs(p["W1"].std() - std) < std / 10 and abs(p["W2"].std() - std) < std / 10
    assert np.all(p["b1"] == 0) and np.all(p["b2"] == 0)

    p["W1"] = np.linspace(-0.7, 0.3, num=d * h).reshape(d, h)
    p["b1"] = np.linspace(-0.1, 0.9, num=h)
    p["W2"] = np.linspace(-0.3, 0.4, num=h * c).reshape(h, c)
    p["b2"] = np.linspace(-0.9, 0.1, num=c)
    X = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T
    scores = model.loss(X)
    assert np.sum(np.abs(scores - _CORRECT_SCORES)) < 1e-6
    y = np.array([0, 5, 1])
    loss, _ = model.loss(X, y)
    assert abs(loss - 3.4702243556) < 1e-10
    assert abs(loss - 3.4702243555953918) <= 1e-12
    model.reg = 1.0
    loss, _ = model.loss(X, y)
    assert abs(loss - 26.5948426952) < 1e-10
    assert abs(loss - 26.594842695238583) <= 1e-12


def test_two_layer_net_init_draws_w1_then_w2() -> None:
    np.random.seed(3)
    model = TwoLayerNet(input_dim=4, hidden_dim=6, num_classes=3, weight_scale=0.5)
    after = np.random.get_state()
    np.random.seed(3)
    np.testing.assert_array_equal(model.params["W1"], 0.5 * np.random.randn(4, 6))
    np.testing.assert_array_equal(model.params["W2"], 0.5 * np.random.randn(6, 3))
    assert same_rng_state(np.random.get_state(), after)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reg", [0.0, 0.7])
@pytest.mark.parametrize("x_shape", [(3, 5), (4, 2, 3)])
def test_two_layer_net_gradients(seed: int, reg: float, x_shape: tuple[int, ...]) -> None:
    np.random.seed(seed)
    X, y = np.random.randn(*x_shape), np.random.randint(7, size=x_shape[0])
    model = TwoLayerNet(
        input_dim=int(np.prod(x_shape[1:])), hidden_dim=6, num_classes=7, weight_scale=1e-1, reg=reg
    )
    _jitter_biases(model, seed)
    _check_gradients(model, X, y)


def test_two_layer_net_regularizes_weights_only_with_half() -> None:
    np.random.seed(0)
    X, y = np.random.randn(4, 5), np.random.randint(3, size=4)
    model = TwoLayerNet(input_dim=5, hidden_dim=4, num_classes=3, weight_scale=1.0)
    model.params["b1"] += 1.0  # regularizing biases would now show
    plain, plain_grads = model.loss(X, y)
    model.reg = 0.3
    loss, grads = model.loss(X, y)
    w1, w2 = model.params["W1"], model.params["W2"]
    assert loss - plain == pytest.approx(0.15 * (np.sum(w1**2) + np.sum(w2**2)), rel=1e-12)
    np.testing.assert_allclose(grads["W1"] - plain_grads["W1"], 0.3 * w1, rtol=1e-12)
    np.testing.assert_array_equal(grads["b1"], plain_grads["b1"])


# ------------------------------------------------------------------------------------------------
# FullyConnectedNet: construction


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("keep", [1, 0.5])
@pytest.mark.parametrize("dropout_seed", [None, 123])
def test_fc_net_construction(
    normalization: str | None, keep: float, dropout_seed: int | None
) -> None:
    np.random.seed(5)
    model = FullyConnectedNet(
        [4, 5],
        input_dim=6,
        num_classes=3,
        dropout_keep_ratio=keep,
        normalization=normalization,
        weight_scale=0.1,
        seed=dropout_seed,
    )
    after = np.random.get_state()
    full = [6, 4, 5, 3]
    assert model.num_layers == 3 and model.reg == 0.0 and model.dtype is np.float32
    assert model.normalization == normalization and model.use_dropout == (keep != 1)

    # RNG: one randn(fan_in, fan_out) per weight, in order; nothing else; the seed is not used.
    np.random.seed(5)
    for i in range(1, 4):
        expected = (0.1 * np.random.randn(full[i - 1], full[i])).astype(np.float32)
        np.testing.assert_array_equal(model.params[f"W{i}"], expected)
        np.testing.assert_array_equal(model.params[f"b{i}"], np.zeros(full[i]))
    assert same_rng_state(np.random.get_state(), after)

    names = {f"{k}{i}" for k in "Wb" for i in range(1, 4)}
    if normalization is not None:
        names |= {f"{k}{i}" for k in ("gamma", "beta") for i in (1, 2)}
        for i in (1, 2):
            np.testing.assert_array_equal(model.params[f"gamma{i}"], np.ones(full[i]))
            np.testing.assert_array_equal(model.params[f"beta{i}"], np.zeros(full[i]))
    assert set(model.params) == names
    assert all(v.dtype == np.float32 for v in model.params.values())

    if keep == 1:
        assert model.dropout_param == {}
    else:
        expected_param: dict[str, Any] = {"mode": "train", "p": keep}
        if dropout_seed is not None:
            expected_param["seed"] = dropout_seed
        assert model.dropout_param == expected_param
    expected_bn = {None: [], "batchnorm": [{"mode": "train"}] * 2, "layernorm": [{}, {}]}
    assert model.bn_params == expected_bn[normalization]
    if model.bn_params:
        assert model.bn_params[0] is not model.bn_params[1]  # each layer keeps its own statistics


@pytest.mark.parametrize(
    "kwargs",
    [
        {"normalization": "groupnorm"},
        {"dropout_keep_ratio": 0},
        {"dropout_keep_ratio": 1.5},
        {"bn_mode_line": "either"},
    ],
)
def test_fc_net_rejects_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FullyConnectedNet([3], input_dim=2, num_classes=2, **kwargs)


# ------------------------------------------------------------------------------------------------
# FullyConnectedNet: gradients and loss


_ARCHITECTURES = ([5], [6, 5], [4, 5, 3])  # 1 to 3 hidden layers
_NORM_KEEP = (
    (None, 1),
    ("batchnorm", 1),
    ("layernorm", 1),
    (None, 0.6),
    ("batchnorm", 0.5),
    ("layernorm", 0.75),
)
_SEED_N = ((0, 2), (231, 5), (7, 1))  # batch sizes 1..5 across the seeds
_GRADIENT_CASES = [
    pytest.param(
        hidden,
        norm,
        keep,
        reg,
        seed,
        n,
        id=f"h{'x'.join(map(str, hidden))}-{norm}-keep{keep}-reg{reg}-seed{seed}-N{n}",
    )
    for hidden in _ARCHITECTURES
    for norm, keep in _NORM_KEEP
    for reg in (0.0, 0.7)
    for seed, n in _SEED_N
    # Batch norm of a single example is constant (x - mean = 0): nothing upstream to check.
    if not (norm == "batchnorm" and n == 1)
]


@pytest.mark.parametrize(
    ("hidden_dims", "normalization", "keep", "reg", "seed", "n"), _GRADIENT_CASES
)
def test_fc_net_gradients(
    hidden_dims: list[int], normalization: str | None, keep: float, reg: float, seed: int, n: int
) -> None:
    """float64, dropout seeded (it reseeds at every call, so the loss is a fixed function)."""
    np.random.seed(seed)
    X, y = np.random.randn(n, 7), np.random.randint(4, size=n)
    model = FullyConnectedNet(
        hidden_dims,
        input_dim=7,
        num_classes=4,
        reg=reg,
        weight_scale=0.5,
        dtype=np.float64,
        normalization=normalization,
        dropout_keep_ratio=keep,
        seed=123,
    )
    assert model.num_layers == len(hidden_dims) + 1
    _jitter_biases(model, seed)
    _check_gradients(model, X, y)


def test_fc_net_single_layer_and_image_input() -> None:
    np.random.seed(1)
    X, y = np.random.randn(3, 2, 2, 2), np.random.randint(3, size=3)
    model = FullyConnectedNet([], input_dim=8, num_classes=3, weight_scale=0.5, dtype=np.float64)
    assert model.num_layers == 1 and set(model.params) == {"W1", "b1"}
    _jitter_biases(model, 1)
    _check_gradients(model, X, y)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("keep", [1, 0.5])
def test_fc_net_float32_stays_float32(normalization: str | None, keep: float) -> None:
    np.random.seed(2)
    X, y = np.random.randn(5, 6), np.random.randint(3, size=5)  # float64 input is cast
    model = FullyConnectedNet(
        [4, 4],
        input_dim=6,
        num_classes=3,
        normalization=normalization,
        dropout_keep_ratio=keep,
        reg=0.1,
    )
    assert model.loss(X).dtype == np.float32
    loss, grads = model.loss(X, y)
    assert isinstance(loss, float)
    assert {k: g.dtype for k, g in grads.items()} == {k: np.dtype(np.float32) for k in model.params}


def test_fc_net_regularizes_weights_only_with_half() -> None:
    np.random.seed(0)
    X, y = np.random.randn(3, 4), np.random.randint(3, size=3)
    model = FullyConnectedNet(
        [5],
        input_dim=4,
        num_classes=3,
        normalization="layernorm",
        weight_scale=0.5,
        dtype=np.float64,
    )
    model.params["gamma1"] += 2.0
    plain, plain_grads = model.loss(X, y)
    model.reg = 3.14
    loss, grads = model.loss(X, y)
    weights = sum(np.sum(model.params[f"W{i}"] ** 2) for i in (1, 2))
    assert loss - plain == pytest.approx(0.5 * 3.14 * weights, rel=1e-12)
    for name in ("b1", "b2", "gamma1", "beta1"):
        np.testing.assert_array_equal(grads[name], plain_grads[name])


# ------------------------------------------------------------------------------------------------
# FullyConnectedNet: modes and RNG use of loss


def test_fc_net_mode_propagation_fixed() -> None:
    """Canonical line: ``loss(X)`` puts batchnorm in test mode, i.e. on the running statistics."""
    np.random.seed(0)
    X, y = np.random.randn(6, 5), np.random.randint(3, size=6)
    model = FullyConnectedNet(
        [4],
        input_dim=5,
        num_classes=3,
        normalization="batchnorm",
        dropout_keep_ratio=0.5,
        weight_scale=0.5,
        dtype=np.float64,
    )
    model.loss(X, y)
    assert model.bn_params[0]["mode"] == "train" and model.dropout_param["mode"] == "train"
    running = dict(model.bn_params[0])
    scores = model.loss(X)
    assert model.bn_params[0]["mode"] == "test" and model.dropout_param["mode"] == "test"
    p = model.params
    a = X @ p["W1"] + p["b1"]
    a = (a - running["running_mean"]) / np.sqrt(running["running_var"] + 1e-5)
    expected = np.maximum(0, p["gamma1"] * a + p["beta1"]) @ p["W2"] + p["b2"]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_fc_net_mode_propagation_starter() -> None:
    """Starter line ``bn_param[mode] = mode``: batchnorm keeps batch statistics in ``loss(X)``."""
    np.random.seed(0)
    X = np.random.randn(6, 5)
    model = FullyConnectedNet(
        [4],
        input_dim=5,
        num_classes=3,
        normalization="batchnorm",
        weight_scale=0.5,
        dtype=np.float64,
        bn_mode_line="starter",
    )
    scores = model.loss(X)
    assert model.bn_params[0]["mode"] == "train" and model.bn_params[0]["test"] == "test"
    p = model.params
    a, _ = batchnorm_forward(X @ p["W1"] + p["b1"], p["gamma1"], p["beta1"], {"mode": "train"})
    np.testing.assert_allclose(scores, np.maximum(0, a) @ p["W2"] + p["b2"], rtol=1e-12)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fc_net_loss_rng_use(normalization: str | None) -> None:
    """Unseeded dropout: one rand per hidden layer in train mode, nothing in test mode."""
    np.random.seed(0)
    X, y = np.random.randn(3, 5), np.random.randint(2, size=3)
    model = FullyConnectedNet(
        [4, 6],
        input_dim=5,
        num_classes=2,
        dropout_keep_ratio=0.5,
        normalization=normalization,
        dtype=np.float64,
    )
    expected = state_after(None, (3, 4), (3, 6))
    model.loss(X, y)
    assert same_rng_state(np.random.get_state(), expected)
    before = np.random.get_state()
    model.loss(X)
    assert same_rng_state(np.random.get_state(), before)


# ------------------------------------------------------------------------------------------------
# Notebook initial losses (float64, the N/D/H1/H2/C fixture after np.random.seed(231))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, (2.300479089768492, 7.052114776533016)),
        ({"normalization": "batchnorm"}, (2.2611955101340957, 6.996533220108303)),
    ],
    ids=["FullyConnectedNets", "BatchNormalization"],
)
def test_fc_net_initial_losses_over_reg(
    kwargs: dict[str, Any], expected: tuple[float, float]
) -> None:
    """variants.md §2.4 / §3b.5: one cell, loop over reg [0, 3.14], [derived] losses."""
    X, y = _fc_fixture()
    for reg, value in zip([0, 3.14], expected, strict=True):
        model = FullyConnectedNet(
            [H1, H2],
            input_dim=D,
            num_classes=C,
            reg=reg,
            weight_scale=5e-2,
            dtype=np.float64,
            **kwargs,
        )
        loss, _ = model.loss(X, y)
        assert abs(loss - value) <= 1e-12, reg


@pytest.mark.parametrize("with_gradient_checks", [False, True])
def test_fc_net_dropout_initial_losses(with_gradient_checks: bool) -> None:
    """variants.md §2.4 Dropout item 4: one seed-231 cell, loop over keep [1, 0.75, 0.5].

    Each model is built inside the loop, so its weights come from the stream as the previous
    iteration left it. With dropout seeded, every ``loss`` call reseeds to 123 and draws one
    rand per hidden layer, so the numeric gradient checks of the notebook (many ``loss`` calls)
    leave the stream exactly where one call does: the losses are the same with and without them.
    """
    X, y = _fc_fixture()
    expected = {1: 2.3004790897684924, 0.75: 2.302371489704412, 0.5: 2.3042759220785896}
    for keep, value in expected.items():
        model = FullyConnectedNet(
            [H1, H2],
            input_dim=D,
            num_classes=C,
            weight_scale=5e-2,
            dtype=np.float64,
            dropout_keep_ratio=keep,
            seed=123,
        )
        loss, _ = model.loss(X, y)
        assert abs(loss - value) <= 1e-12, keep
        if with_gradient_checks:
            errors = _check_gradients(model, X, y)
            assert max(errors.values()) < 1e-4  # "around e-6 or less ... W2 on the order of e-5"


@pytest.mark.parametrize(
    ("keeps", "expected"),
    [
        ((1, 0.25, 0.5), (2.3051948273987857, 2.3126468345657742, 2.302437587710995)),
        ((1, 0.75, 0.5), (2.3051948273987857, 2.29898614757146, 2.302437587710995)),
    ],
    ids=["keep-semantics-seed001", "drop-semantics-keep=1-p"],
)
def test_c147_fc_dropout_initial_losses(
    keeps: tuple[float, ...], expected: tuple[float, ...]
) -> None:
    """variants.md §5.4: the unseeded UCLA cell, dropout [0, 0.25, 0.5], after the backward cell.

    The backward cell's ``seed: 123`` leaves the stream at "seed 123, then one rand(10, 10)".
    Seed 001 read p as a keep probability (0 = off); the docstring's drop semantics is
    keep = 1 - p (the same row is CS182's, §6.4 item 10).
    """
    np.random.seed(123)
    np.random.rand(10, 10)
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for keep, value in zip(keeps, expected, strict=True):
        model = FullyConnectedNet(
            [H1, H2],
            input_dim=D,
            num_classes=C,
            weight_scale=5e-2,
            dtype=np.float64,
            dropout_keep_ratio=keep,
            seed=123,
        )
        loss, _ = model.loss(X, y)
        assert abs(loss - value) <= 1e-12, keep


def _cs182_linspace_model(bn_mode_line: str) -> tuple[FullyConnectedNet, np.ndarray]:
    model = FullyConnectedNet(
        [H1, H2],
        input_dim=D,
        num_classes=C,
        normalization="batchnorm",
        reg=0,
        weight_scale=5e-2,
        dtype=np.float64,
        bn_mode_line=bn_mode_line,
    )
    p = model.params
    p["W1"] = np.linspace(-0.7, 0.3, num=D * H1).reshape(D, H1)
    p["b1"] = np.linspace(-0.1, 0.9, num=H1)
    p["W2"] = np.linspace(-0.3, 0.4, num=H1 * H2).reshape(H1, H2)
    p["b2"] = np.linspace(-0.9, 0.1, num=H2)
    p["W3"] = np.linspace(-0.3, 0.4, num=H2 * C).reshape(H2, C)
    p["b3"] = np.linspace(-0.9, 0.1, num=C)
    return model, np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T


# fmt: off
# The notebook's printout, two rows of ten (one value per line would hide the rows).
_EXPECTED_BN_FORWARD_OUTPUT = np.array([
    [0.28397701, 0.46532063, 0.64666426, 0.82800788, 1.0093515, 1.19069513, 1.37203875,
     1.55338238, 1.734726, 1.91606962],
    [-0.9, -0.78888889, -0.67777778, -0.56666667, -0.45555556, -0.34444444, -0.23333333,
     -0.12222222, -0.01111111, 0.1],
])
# fmt: on


def test_cs182_expected_bn_forward_output_needs_the_starter_line() -> None:
    """variants.md §6.4 item 5: 5.00e-08 with bn_mode_line='starter', 1.00 with 'fixed'."""
    model, X = _cs182_linspace_model("starter")
    error = rel_error(model.loss(X), _EXPECTED_BN_FORWARD_OUTPUT)
    assert error < 1e-7
    assert abs(error - 5.00e-08) <= 0.005e-08 + 1e-12  # printed "%.2e": to its precision
    model, X = _cs182_linspace_model("fixed")
    assert rel_error(model.loss(X), _EXPECTED_BN_FORWARD_OUTPUT) == pytest.approx(1.0, abs=1e-3)


def test_cs182_bn_initial_losses_after_the_chain() -> None:
    """variants.md §6.4 item 5: 2.225590601134652 / 7.264561247023963 in order from cell 2.

    Cell 2 reseeds with 7 and draws W1, W2 and 51 batches; cell 3 draws x, gamma, beta, dout;
    cell 5 builds the linspace model (its weight draws count), then X, y and one model per reg.
    """
    np.random.seed(7)
    np.random.randn(50, 60)
    np.random.randn(60, 3)
    for _ in range(51):
        np.random.randn(200, 50)
    for shape in ((4, 5), (5,), (5,), (4, 5)):  # cell 3: x, gamma, beta, dout
        np.random.randn(*shape)
    _cs182_linspace_model("starter")
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg, value in ((0, 2.225590601134652), (3.14, 7.264561247023963)):
        model = FullyConnectedNet(
            [H1, H2],
            input_dim=D,
            num_classes=C,
            normalization="batchnorm",
            reg=reg,
            weight_scale=5e-2,
            dtype=np.float64,
            bn_mode_line="starter",
        )
        loss, _ = model.loss(X, y)
        assert abs(loss - value) <= 1e-12, reg
