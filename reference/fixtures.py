"""The canonical notebook fixtures the reference must reproduce, as data.

Each :class:`Fixture` replays one notebook cell (inputs, seeds and global-RNG draw order as
variants.md describes them) against the reference and measures one number: an error metric the
notebook prints (``rel_error``/``abs_error``) or a printed value such as an initial loss.
``grader.selftest`` runs them all; ``tests/reference/test_fixtures.py`` does the same under pytest.

Trusted side only: the cells import the solution modules (``reference.layers``, ``optim``,
``fc_net``), lazily, inside the functions, so importing this module stays cheap.

Every cell saves and restores the global legacy ``np.random`` state, so running fixtures in any
order (or alongside other code) neither depends on nor disturbs the caller's RNG.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, ParamSpec, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EXACT_TOL",
    "FIXTURES",
    "Fixture",
    "Rule",
    "abs_error",
    "printed_tolerance",
    "rel_error",
]

Rule = Literal["abs", "below"]
_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Fixture:
    """One number a notebook cell prints, and how close the reference must come to it."""

    name: str
    """Unique identifier, e.g. ``"optim_adam_next_w"`` (used as the pytest id)."""
    source: str
    """Where the cell and the expected number are documented (a variants.md section)."""
    compute: Callable[[], float]
    """Replays the cell against the reference and returns the measured number."""
    expected: float
    """``abs``: the value to reproduce. ``below``: the value a seed printed or research derived,
    shown for information only (the threshold is ``tolerance``); NaN when the cell compares
    arrays and prints no such number."""
    tolerance: float
    """``abs``: the allowed ``|measured - expected|``. ``below``: the threshold on ``measured``."""
    rule: Rule
    """``"abs"``: ``|measured - expected| <= tolerance``; ``"below"``: ``measured <= tolerance``."""
    bound: float = math.inf
    """A threshold the notebook states for the measured value (``measured <= bound``), checked
    *as well as* the ``abs`` rule; ``inf`` when there is none. For ``below`` fixtures the
    threshold is ``tolerance`` itself."""

    def passes(self, measured: float) -> bool:
        """Whether ``measured`` satisfies this fixture's rule and bound (NaN never does)."""
        if math.isnan(measured) or measured > self.bound:
            return False
        if self.rule == "abs":
            return abs(measured - self.expected) <= self.tolerance
        return measured <= self.tolerance


def rel_error(x: ArrayLike, y: ArrayLike) -> float:
    """The notebooks' relative error (variants.md §1.3).

    Parameters
    ----------
    x, y : array_like, same shape
        The two arrays compared.

    Returns
    -------
    float
        :math:`\\max_i |x_i - y_i| / \\max(10^{-8}, |x_i| + |y_i|)`.
    """
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def abs_error(x: ArrayLike, y: ArrayLike) -> float:
    """CS182's ``abs_error``: :math:`\\max_i |x_i - y_i|` (variants.md §6.1)."""
    return float(np.max(np.abs(np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64))))


EXACT_TOL = 1e-12
"""Allowed ``|measured - printed|`` when a cell is replayed exactly and the printout is a full
``repr`` (the issue's acceptance: "within 1e-12 where it is an exact replay")."""


def printed_tolerance(text: str) -> float:
    """Tolerance of an exact replay of a *rounded* printout.

    Parameters
    ----------
    text : str
        The number as printed, e.g. ``"1.08751868451e-08"`` (Python 2's 12 significant digits),
        ``"5.00e-08"`` (``%.2e``) or ``"1.01531428"`` (numpy's 8 decimals).

    Returns
    -------
    float
        ``EXACT_TOL`` plus half a unit in the last printed digit.

    Notes
    -----
    A rounded printout :math:`p` with last digit of weight :math:`10^e` only says that the true
    value lies in :math:`[p - \tfrac12 10^e, p + \tfrac12 10^e]`; an exact replay must land
    within ``EXACT_TOL`` of that interval. For a full ``repr`` the half unit is far below
    ``EXACT_TOL`` and this is ``EXACT_TOL`` itself.
    """
    exponent = Decimal(text).as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite printed number: {text!r}")
    return EXACT_TOL + 0.5 * 10.0**exponent


def _isolated_rng(cell: Callable[_P, _T]) -> Callable[_P, _T]:
    """Run ``cell`` with the caller's global RNG state saved and restored around it."""

    @functools.wraps(cell)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        state = np.random.get_state()
        try:
            return cell(*args, **kwargs)
        finally:
            np.random.set_state(state)

    return wrapper


# --------------------------------------------------------------------------------------------
# Optimizer fixture (variants.md §1.3; identical in S17, S24, U18, C147, DASE)

_N, _D = 4, 5


def _grid(lo: float, hi: float) -> NDArray[np.float64]:
    return np.linspace(lo, hi, num=_N * _D).reshape(_N, _D)


_EXPECTED_VELOCITY = [
    [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
    [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
    [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
    [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
]

_OPTIM_EXPECTED: dict[str, dict[str, list[list[float]]]] = {
    "sgd_momentum": {
        "next_w": [
            [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
            [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
            [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
            [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
        ],
        "velocity": _EXPECTED_VELOCITY,
    },
    "sgd_nesterov_momentum": {
        "next_w": [
            [0.08714, 0.15246105, 0.21778211, 0.28310316, 0.34842421],
            [0.41374526, 0.47906632, 0.54438737, 0.60970842, 0.67502947],
            [0.74035053, 0.80567158, 0.87099263, 0.93631368, 1.00163474],
            [1.06695579, 1.13227684, 1.19759789, 1.26291895, 1.32824],
        ],
        "velocity": _EXPECTED_VELOCITY,
    },
    "rmsprop": {
        "next_w": [
            [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
            [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
            [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
            [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
        ],
        "cache": [
            [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
            [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
            [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
            [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
        ],
    },
    "adam": {
        "next_w": [
            [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
            [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
            [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
            [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
        ],
        "v": [
            [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
            [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
            [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
            [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
        ],
        "m": [
            [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
            [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
            [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
            [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
        ],
    },
}


def _optim_config(rule: str) -> dict[str, Any]:
    if rule in ("sgd_momentum", "sgd_nesterov_momentum"):
        return {"learning_rate": 1e-3, "velocity": _grid(0.6, 0.9)}
    if rule == "rmsprop":
        return {"learning_rate": 1e-2, "cache": _grid(0.6, 0.9)}
    return {"learning_rate": 1e-2, "m": _grid(0.6, 0.9), "v": _grid(0.7, 0.5), "t": 5}


@_isolated_rng
def _optim_cell(rule: str, output: str) -> float:
    """One optimizer step on the fixture; rel_error of ``next_w`` or of a state array."""
    import reference.optim

    update = getattr(reference.optim, rule)
    next_w, config = update(_grid(-0.4, 0.6), _grid(-0.6, 0.4), config=_optim_config(rule))
    actual = next_w if output == "next_w" else config[output]
    return rel_error(_OPTIM_EXPECTED[rule][output], actual)


# --------------------------------------------------------------------------------------------
# Dropout.ipynb forward (variants.md §2.4 item 1 keep semantics; §3.4 drop semantics)

_DROPOUT_PS = (0.25, 0.4, 0.7)  # modern / daseCV / CS231n 2018-2020: keep probabilities
_DROP_PS = (0.3, 0.6, 0.75)  # CS231n 2017 (and UCLA, CS182): drop probabilities, keep = 1 - p


@_isolated_rng
def _dropout_forward_cell(keeps: tuple[float, ...] = _DROPOUT_PS) -> dict[str, float]:
    """Seed 231, x = randn(500, 500) + 10; for each keep one train call then one test call."""
    from reference.layers import dropout_forward

    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    stats = {"input_mean": float(x.mean()), "test_max_abs_change": 0.0}
    for p in keeps:
        out, _ = dropout_forward(x, {"mode": "train", "p": p})
        out_test, _ = dropout_forward(x, {"mode": "test", "p": p})
        stats[f"train_mean_{p}"] = float(out.mean())
        stats[f"train_zero_fraction_{p}"] = float((out == 0).mean())
        stats["test_max_abs_change"] = max(
            stats["test_max_abs_change"], float(np.max(np.abs(out_test - x)))
        )
    return stats


def _dropout_forward_stat(key: str) -> float:
    return _dropout_forward_cell()[key]


def _drop_semantics_forward_stat(key: str, drop_p: float) -> float:
    """The 2017 cell (drop probability ``drop_p``) through the canonical API: keep = 1 - p."""
    keeps = tuple(1 - p for p in _DROP_PS)
    return _dropout_forward_cell(keeps)[f"{key}_{1 - drop_p}"]


_DASE_MASK = [[1.25, 1.25, 1.25], [1.25, 0.0, 0.0]]


@_isolated_rng
def _dase_mask_error() -> float:
    """daseCV scratch cell (§7.4 item 3): after seed 231 the keep-0.8 mask of a (2, 3) input."""
    from reference.layers import dropout_forward

    np.random.seed(231)
    _, (_, mask) = dropout_forward(np.ones((2, 3)), {"mode": "train", "p": 0.8})
    return abs_error(np.asarray(mask), _DASE_MASK)


@_isolated_rng
def _dropout_backward_cell() -> float:
    """Seed 231, x = randn(10, 10) + 10, dout = randn(10, 10), p = 0.2 with dropout seed 123."""
    from reference.gradient_check import eval_numerical_gradient_array
    from reference.layers import dropout_backward, dropout_forward

    np.random.seed(231)
    x = np.random.randn(10, 10) + 10
    dout = np.random.randn(*x.shape)
    dropout_param = {"mode": "train", "p": 0.2, "seed": 123}
    _, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda xx: dropout_forward(xx, dropout_param)[0], x, dout
    )
    return rel_error(dx, dx_num)


# --------------------------------------------------------------------------------------------
# FullyConnectedNets.ipynb layer cells (variants.md §3.4, §3b.5 items 1-2)

_AFFINE_CORRECT_OUT = [[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]]
_RELU_CORRECT_OUT = [
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.04545455, 0.13636364],
    [0.22727273, 0.31818182, 0.40909091, 0.5],
]


def _affine_forward_error() -> float:
    """affine_forward on the linspace fixture (2 inputs of shape (4, 5, 6), 3 outputs)."""
    from reference.layers import affine_forward

    x = np.linspace(-0.1, 0.5, num=2 * 120).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=120 * 3).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    return rel_error(affine_forward(x, w, b)[0], _AFFINE_CORRECT_OUT)


def _relu_forward_error() -> float:
    from reference.layers import relu_forward

    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    return rel_error(relu_forward(x)[0], _RELU_CORRECT_OUT)


@_isolated_rng
def _loss_layers_cell(which: str) -> float:
    """Seed 231, x = 0.001 randn(50, 10), y = randint(10, size=50); svm_loss, softmax_loss."""
    from reference.layers import softmax_loss, svm_loss

    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    return float((svm_loss if which == "svm" else softmax_loss)(x, y)[0])


# --------------------------------------------------------------------------------------------
# FC-net initial losses: N, D, H1, H2, C = 2, 15, 20, 30, 10 after np.random.seed(231)

_NET = {"N": 2, "D": 15, "H1": 20, "H2": 30, "C": 10}


def _keep_settings(keeps: tuple[float, ...]) -> tuple[dict[str, Any], ...]:
    return tuple({"dropout_keep_ratio": keep, "seed": 123} for keep in keeps)


_FC_SETTINGS: dict[str, tuple[dict[str, Any], ...]] = {
    # Dropout.ipynb (modern, daseCV): keep 1, 0.75, 0.5 with dropout seed 123. CS231n 2017's
    # drop 0, 0.25, 0.5 maps onto the very same keep values (keep = 1 - p, §3.4).
    "dropout": _keep_settings((1, 0.75, 0.5)),
    "plain": ({"reg": 0}, {"reg": 3.14}),  # FullyConnectedNets.ipynb
    "batchnorm": (  # BatchNormalization.ipynb
        {"reg": 0, "normalization": "batchnorm"},
        {"reg": 3.14, "normalization": "batchnorm"},
    ),
    # UCLA C147 (§5.4) dropout [0, 0.25, 0.5]: seed 001 read p as a keep probability (0 = off);
    # the docstring's drop semantics is keep = 1 - p (also CS182 §6.4 item 10).
    "c147_keep": _keep_settings((1, 0.25, 0.5)),
    "c147_drop": _keep_settings((1, 0.75, 0.5)),
}


@_isolated_rng
def _fc_initial_losses(variant: str) -> list[float]:
    """Initial losses of an FC check cell (N, D, H1, H2, C = 2, 15, 20, 30, 10), in loop order.

    ``variant`` keys :data:`_FC_SETTINGS`. The seed-231 cells start with ``np.random.seed(231)``;
    the UCLA/CS182 cells (``c147_*``) are unseeded and start from the state their preceding
    dropout backward cell leaves: its ``seed: 123`` reseeds on every ``dropout_forward`` call,
    the last of which draws one ``rand(10, 10)`` (§5.4). The cells' numeric-gradient loops are
    skipped: they draw nothing from the global RNG except through dropout, which reseeds to 123
    on every call, so after the loop the RNG is in the state one ``loss`` call leaves (what the
    next model's weight draws then see).
    """
    from reference.fc_net import FullyConnectedNet

    N, D, H1, H2, C = (_NET[k] for k in ("N", "D", "H1", "H2", "C"))
    if variant.startswith("c147"):
        np.random.seed(123)
        np.random.rand(10, 10)
    else:
        np.random.seed(231)
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    losses = []
    for kwargs in _FC_SETTINGS[variant]:
        model = FullyConnectedNet(
            [H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2, dtype=np.float64, **kwargs
        )
        loss, _ = model.loss(X, y)
        losses.append(float(loss))
    return losses


def _fc_loss(variant: str, index: int) -> float:
    return _fc_initial_losses(variant)[index]


# --------------------------------------------------------------------------------------------
# BatchNormalization.ipynb / layer norm (variants.md §2.4, §3b.5; seed 231)


@_isolated_rng
def _bn_test_time_cell(seed: int) -> NDArray[np.float64]:
    """Test-time BN forward after 50 shared-``bn_param`` warm-up calls; returns ``a_norm``.

    ``seed`` 231 is the modern cell (§2.4), 7 the CS182 cell (§6.4 item 2); the cells are the same.
    """
    from reference.layers import batchnorm_forward

    N, D1, D2, D3 = 200, 50, 60, 3
    np.random.seed(seed)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    bn_param: dict[str, Any] = {"mode": "train"}
    gamma, beta = np.ones(D3), np.zeros(D3)
    for _ in range(50):
        X = np.random.randn(N, D1)
        a = np.maximum(0, X.dot(W1)).dot(W2)
        batchnorm_forward(a, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    X = np.random.randn(N, D1)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    a_norm, _ = batchnorm_forward(a, gamma, beta, bn_param)
    return np.asarray(a_norm, dtype=np.float64)


# numpy prints these with 8 decimals, so the reference must agree to within 5e-9.
_BN_TEST_MEANS = [-0.03927354, -0.04349152, -0.10452688]
_BN_TEST_STDS = [1.01531428, 1.01238373, 0.97819988]


def _bn_test_time_stat(stat: str) -> float:
    a_norm = _bn_test_time_cell(231)
    if stat == "mean":
        return abs_error(a_norm.mean(axis=0), _BN_TEST_MEANS)
    return abs_error(a_norm.std(axis=0), _BN_TEST_STDS)


@_isolated_rng
def _layernorm_forward_cell(gamma_value: float, beta_value: float) -> NDArray[np.float64]:
    """Seed 231, (N, D1, D2, D3) = (4, 50, 60, 3); per-row stds after layer norm."""
    from reference.layers import layernorm_forward

    N, D1, D2, D3 = 4, 50, 60, 3
    np.random.seed(231)
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    # The notebook passes {'mode': 'train'}, which layer norm must ignore.
    a_norm, _ = layernorm_forward(
        a, gamma_value * np.ones(D3), beta_value * np.ones(D3), {"mode": "train"}
    )
    stds: NDArray[np.float64] = np.asarray(a_norm, dtype=np.float64).std(axis=1)
    return stds


_LN_STDS = {
    1.0: [0.99999995, 0.99999999, 1.0, 0.99999969],
    3.0: [2.99999985, 2.99999998, 2.99999999, 2.99999907],
}


def _layernorm_std_error(gamma_value: float, beta_value: float) -> float:
    return abs_error(_layernorm_forward_cell(gamma_value, beta_value), _LN_STDS[gamma_value])


# --------------------------------------------------------------------------------------------
# CS182 bn_drop.ipynb (variants.md §6.4; seed 7, starter BN mode line)

_EXPECTED_A_NORM = [
    [-7.37859885e-01, 2.10050591e00, -3.24286480e-01],
    [2.02781031e00, 1.92492178e-01, 1.54852388e00],
    [5.44242949e-01, 1.07389911e00, 8.06464618e-01],
    [-2.25599789e-02, 7.64501325e-01, -3.03045313e-01],
    [-9.74592587e-01, 6.01731799e-01, -6.57200019e-03],
]

# fmt: off
# The notebook's printout, two rows of ten (one value per line would hide the rows).
_EXPECTED_BN_FORWARD_OUTPUT = [
    [0.28397701, 0.46532063, 0.64666426, 0.82800788, 1.0093515, 1.19069513, 1.37203875,
     1.55338238, 1.734726, 1.91606962],
    [-0.9, -0.78888889, -0.67777778, -0.56666667, -0.45555556, -0.34444444, -0.23333333,
     -0.12222222, -0.01111111, 0.1],
]
# fmt: on


def _cs182_a_norm_error() -> float:
    return abs_error(_bn_test_time_cell(7)[:5], _EXPECTED_A_NORM)


def _cs182_bn_model(reg: float) -> Any:
    from reference.fc_net import FullyConnectedNet

    return FullyConnectedNet(
        [_NET["H1"], _NET["H2"]],
        input_dim=_NET["D"],
        num_classes=_NET["C"],
        reg=reg,
        weight_scale=5e-2,
        dtype=np.float64,
        normalization="batchnorm",
        bn_mode_line="starter",
    )


def _linspace_params(model: Any) -> NDArray[np.float64]:
    """Overwrite W/b with the cell's linspace values; return the cell's linspace X (N, D)."""
    N, D, H1, H2, C = (_NET[k] for k in ("N", "D", "H1", "H2", "C"))
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H1).reshape(D, H1)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H1)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H1 * H2).reshape(H1, H2)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=H2)
    model.params["W3"] = np.linspace(-0.3, 0.4, num=H2 * C).reshape(H2, C)
    model.params["b3"] = np.linspace(-0.9, 0.1, num=C)
    return np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T


@_isolated_rng
def _cs182_bn_forward_output_error() -> float:
    """``model.loss(X)`` with linspace params; BN stays in train mode (starter mode line)."""
    model = _cs182_bn_model(0)
    X = _linspace_params(model)
    return rel_error(model.loss(X), _EXPECTED_BN_FORWARD_OUTPUT)


def _cs182_cells_2_and_3() -> tuple[NDArray[np.float64], ...]:
    """Replay cells 2 (reseeds with 7) and 3's draws; return cell 3's x, gamma, beta, dout.

    The chain starts at the test-time cell, which reseeds; the optional alt-backward cell (4)
    is not run (variants.md §6.4 items 3, 5). The numeric gradients of cell 3 draw nothing.
    """
    N, D1 = 200, 50
    np.random.seed(7)
    np.random.randn(D1, 60)  # cell 2: W1
    np.random.randn(60, 3)  # cell 2: W2
    for _ in range(51):  # cell 2: 50 warm-up batches and the test batch
        np.random.randn(N, D1)
    x = 5 * np.random.randn(4, 5) + 12  # cell 3
    gamma, beta = np.random.randn(5), np.random.randn(5)
    dout = np.random.randn(*x.shape)
    return x, gamma, beta, dout


@_isolated_rng
def _cs182_bn_backward_cell() -> dict[str, float]:
    """Cell 3: rel_error of dx, dgamma, dbeta against ``eval_numerical_gradient_array``.

    CS182's lambdas take ``gamma``/``beta`` as their argument (no ``.copy()``), so the numeric
    gradient perturbs the arrays in place and restores them, as here.
    """
    from reference.gradient_check import eval_numerical_gradient_array
    from reference.layers import batchnorm_backward, batchnorm_forward

    x, gamma, beta, dout = _cs182_cells_2_and_3()
    bn_param = {"mode": "train"}
    dx_num = eval_numerical_gradient_array(
        lambda xx: batchnorm_forward(xx, gamma, beta, bn_param)[0], x, dout
    )
    da_num = eval_numerical_gradient_array(
        lambda gg: batchnorm_forward(x, gg, beta, bn_param)[0], gamma, dout
    )
    db_num = eval_numerical_gradient_array(
        lambda bb: batchnorm_forward(x, gamma, bb, bn_param)[0], beta, dout
    )
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return {
        "dx": rel_error(dx_num, dx),
        "dgamma": rel_error(da_num, dgamma),
        "dbeta": rel_error(db_num, dbeta),
    }


def _cs182_bn_backward_stat(key: str) -> float:
    return _cs182_bn_backward_cell()[key]


@_isolated_rng
def _cs182_bn_initial_losses() -> list[float]:
    """Cell 5 after cells 2 and 3: the linspace model (drawing W1..W3), X, y, one model per reg."""
    _cs182_cells_2_and_3()
    _cs182_bn_model(0)  # cell 5: the linspace model's weight draws
    X = np.random.randn(_NET["N"], _NET["D"])
    y = np.random.randint(_NET["C"], size=(_NET["N"],))
    losses = []
    for reg in (0, 3.14):
        loss, _ = _cs182_bn_model(reg).loss(X, y)
        losses.append(float(loss))
    return losses


def _cs182_bn_loss(index: int) -> float:
    return _cs182_bn_initial_losses()[index]


# --------------------------------------------------------------------------------------------
# TwoLayerNet (variants.md §10.1, §3.4; seed 231, std 1e-3)

_CORRECT_SCORES = [
    [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
    [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
    [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
]


@_isolated_rng
def _two_layer_cell() -> dict[str, float]:
    from reference.fc_net import TwoLayerNet

    N, D, H, C = 3, 5, 50, 7
    np.random.seed(231)
    np.random.randn(N, D)  # X, replaced below
    np.random.randint(C, size=N)  # y, replaced below
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    scores = model.loss(X)
    y = np.asarray([0, 5, 1])
    loss, _ = model.loss(X, y)
    model.reg = 1.0
    reg_loss, _ = model.loss(X, y)
    model.reg = 0.7
    reg07_loss, _ = model.loss(X, y)
    return {
        "scores_abs_sum": float(np.sum(np.abs(scores - np.asarray(_CORRECT_SCORES)))),
        "scores_max_abs": abs_error(scores, _CORRECT_SCORES),
        "weights_sq_sum": float(sum(np.sum(model.params[w] ** 2) for w in ("W1", "W2"))),
        "loss": float(loss),
        "reg_loss": float(reg_loss),
        "reg07_loss": float(reg07_loss),
    }


@_isolated_rng
def _two_layer_init_std_error(weight: str) -> float:
    """The cell's init assert: ``|std(W) - std| < std / 10`` with std = 1e-3 (seed 231)."""
    from reference.fc_net import TwoLayerNet

    np.random.seed(231)
    np.random.randn(3, 5)
    np.random.randint(7, size=3)
    model = TwoLayerNet(input_dim=5, hidden_dim=50, num_classes=7, weight_scale=1e-3)
    return abs(float(np.std(model.params[weight])) - 1e-3)


def _two_layer_stat(key: str) -> float:
    return _two_layer_cell()[key]


# --------------------------------------------------------------------------------------------
# The table
#
# Every "abs" fixture is an exact replay: ``expected`` is the printout, with EXACT_TOL for a
# full repr and printed_tolerance(...) for a rounded one; ``bound`` adds the notebook's own
# threshold where it states one. "below" fixtures compare arrays the notebook prints rounded
# (the tolerance is then the printed precision) or check a notebook assert as stated.


_NONE = math.nan  # "expected" of a below-rule fixture whose cell prints no single number
_DECIMALS_8 = printed_tolerance("0.00000001")  # numpy's default 8-decimal array printout


def _cell(fn: Callable[..., float], *args: Any) -> Callable[[], float]:
    return functools.partial(fn, *args)


def _exact(
    name: str, source: str, compute: Callable[[], float], printed: float, bound: float = math.inf
) -> Fixture:
    """An exact replay of a full-precision (repr) printout."""
    return Fixture(name, source, compute, printed, EXACT_TOL, "abs", bound)


def _rounded(
    name: str, source: str, compute: Callable[[], float], printed: str, bound: float = math.inf
) -> Fixture:
    """An exact replay of a rounded printout, to its printed precision."""
    return Fixture(name, source, compute, float(printed), printed_tolerance(printed), "abs", bound)


_OPT = "variants.md §1.3, §3b.5 item 7"
_MOM = "variants.md §1.3, §3b.5 item 6, §5.4"
_NESTEROV = "variants.md §1.3, §4.4 item 3"
_DROP = "variants.md §2.4 Dropout item "
_DROP17 = "variants.md §3.4 (drop p, keep = 1 - p)"
_DASE = "variants.md §7.4 item 3"
_LAYER = "variants.md §3.4, §3b.5 item "
_FCN = "variants.md §2.4 FullyConnectedNets, §3b.5"
_BN = "variants.md §2.4 BatchNormalization, §3b.5"
_LN = "variants.md §3b.5 BatchNormalization item 6"
_C147 = "variants.md §5.4 FC dropout check"
_B182 = "variants.md §6.4 item "
_TLN = "variants.md §10.1, §3.4"

FIXTURES: tuple[Fixture, ...] = (
    # Optimizers (§1.3): every printed error is an exact replay of one formula; the notebooks'
    # thresholds ("< 1e-8" momentum and states, "around 1e-7" RMSProp/Adam) must hold as well.
    # Printouts: ST20/C147 full reprs; seed 002 (Python 2, 12 significant digits) for Nesterov.
    _exact(
        "optim_momentum_next_w",
        _MOM,
        _cell(_optim_cell, "sgd_momentum", "next_w"),
        8.882347033505819e-09,
        1e-8,
    ),
    _exact(
        "optim_momentum_velocity",
        _MOM,
        _cell(_optim_cell, "sgd_momentum", "velocity"),
        4.269287743278663e-09,
        1e-8,
    ),
    _rounded(
        "optim_nesterov_next_w",
        _NESTEROV,
        _cell(_optim_cell, "sgd_nesterov_momentum", "next_w"),
        "1.08751868451e-08",
    ),
    _rounded(
        "optim_nesterov_velocity",
        _NESTEROV,
        _cell(_optim_cell, "sgd_nesterov_momentum", "velocity"),
        "4.26928774328e-09",
        1e-8,
    ),
    _exact(
        "optim_rmsprop_next_w",
        _OPT,
        _cell(_optim_cell, "rmsprop", "next_w"),
        9.524687511038133e-08,
        1e-7,
    ),
    _exact(
        "optim_rmsprop_cache",
        _OPT,
        _cell(_optim_cell, "rmsprop", "cache"),
        2.6477955807156126e-09,
        1e-8,
    ),
    _exact(
        "optim_adam_next_w",
        _OPT,
        _cell(_optim_cell, "adam", "next_w"),
        1.1395691798535431e-07,
        1.2e-7,
    ),
    _exact("optim_adam_m", _OPT, _cell(_optim_cell, "adam", "m"), 4.214963193114416e-09, 1e-8),
    _exact("optim_adam_v", _OPT, _cell(_optim_cell, "adam", "v"), 4.208314038113071e-09, 1e-8),
    # Layer cells of FullyConnectedNets.ipynb ([derived] = ST20).
    _exact(
        "affine_forward_error", _LAYER + "1", _affine_forward_error, 9.769847728806635e-10, 1e-9
    ),
    _exact("relu_forward_error", _LAYER + "1", _relu_forward_error, 4.999999798022158e-08),
    _exact("svm_loss", _LAYER + "2", _cell(_loss_layers_cell, "svm"), 8.999602749096233),
    _exact("softmax_loss", _LAYER + "2", _cell(_loss_layers_cell, "softmax"), 2.302545844500738),
    # Dropout forward, seed 231: seed 000's printed values, exact under §9.1's conventions.
    _exact(
        "dropout_fwd_input_mean",
        _DROP + "1",
        _cell(_dropout_forward_stat, "input_mean"),
        10.000207878477502,
    ),
    *(
        _exact(
            f"dropout_fwd_train_mean_p{p}",
            _DROP + "1",
            _cell(_dropout_forward_stat, f"train_mean_{p}"),
            mean,
        )
        for p, mean in zip(
            _DROPOUT_PS, (10.014059116977283, 9.977917658761159, 9.987811912159426), strict=True
        )
    ),
    *(
        _exact(
            f"dropout_fwd_zero_fraction_p{p}",
            _DROP + "1",
            _cell(_dropout_forward_stat, f"train_zero_fraction_{p}"),
            frac,
        )
        for p, frac in zip(_DROPOUT_PS, (0.749784, 0.600796, 0.30074), strict=True)
    ),
    Fixture(
        "dropout_fwd_test_is_identity",
        _DROP + "1",
        _cell(_dropout_forward_stat, "test_max_abs_change"),
        0.0,
        0.0,
        "below",
    ),
    # The 2017 cell (drop p 0.3, 0.6, 0.75) mapped onto keep = 1 - p ([derived]).
    *(
        _exact(
            f"dropout_fwd_drop_p{p}_train_mean",
            _DROP17,
            _cell(_drop_semantics_forward_stat, "train_mean", p),
            mean,
        )
        for p, mean in zip(
            _DROP_PS, (9.990848162756777, 9.977917658761159, 9.991640741515118), strict=True
        )
    ),
    *(
        _exact(
            f"dropout_fwd_drop_p{p}_zero_fraction",
            _DROP17,
            _cell(_drop_semantics_forward_stat, "train_zero_fraction", p),
            frac,
        )
        for p, frac in zip(_DROP_PS, (0.300672, 0.600796, 0.750232), strict=True)
    ),
    _exact("dase_dropout_mask_p0.8", _DASE, _dase_mask_error, 0.0),
    _exact("dropout_backward", _DROP + "2", _dropout_backward_cell, 5.44560814873387e-11, 1e-10),
    # FC-net initial losses (dropout off or seeded: implementation-independent, §9.3).
    *(
        _exact(f"fc_dropout_loss_keep{keep}", _DROP + "4", _cell(_fc_loss, "dropout", i), loss)
        for i, (keep, loss) in enumerate(
            ((1, 2.3004790897684924), (0.75, 2.302371489704412), (0.5, 2.3042759220785896))
        )
    ),
    *(
        _exact(f"fc_dropout_loss_drop{p}", _DROP17, _cell(_fc_loss, "dropout", i), loss)
        for i, (p, loss) in enumerate(
            ((0, 2.300479089768492), (0.25, 2.302371489704412), (0.5, 2.30427592207859))
        )
    ),
    *(
        _exact(
            f"c147_fc_dropout_loss_keep_semantics_p{p}",
            _C147 + " (seed 001)",
            _cell(_fc_loss, "c147_keep", i),
            loss,
        )
        for i, (p, loss) in enumerate(
            ((0, 2.3051948273987857), (0.25, 2.3126468345657742), (0.5, 2.302437587710995))
        )
    ),
    *(
        _exact(
            f"c147_fc_dropout_loss_drop_semantics_p{p}",
            _C147 + ", §6.4 item 10",
            _cell(_fc_loss, "c147_drop", i),
            loss,
        )
        for i, (p, loss) in enumerate(
            ((0, 2.3051948273987857), (0.25, 2.29898614757146), (0.5, 2.302437587710995))
        )
    ),
    *(
        _exact(f"fc_loss_reg{reg}", _FCN, _cell(_fc_loss, "plain", i), loss)
        for i, (reg, loss) in enumerate(((0, 2.300479089768492), (3.14, 7.052114776533016)))
    ),
    *(
        _exact(f"fc_batchnorm_loss_reg{reg}", _BN, _cell(_fc_loss, "batchnorm", i), loss)
        for i, (reg, loss) in enumerate(((0, 2.2611955101340957), (3.14, 6.996533220108303)))
    ),
    # Batch/layer norm statistics, printed with 8 decimals: within the printed precision.
    Fixture(
        "bn_test_time_means", _BN, _cell(_bn_test_time_stat, "mean"), _NONE, _DECIMALS_8, "below"
    ),
    Fixture(
        "bn_test_time_stds", _BN, _cell(_bn_test_time_stat, "std"), _NONE, _DECIMALS_8, "below"
    ),
    Fixture(
        "layernorm_stds_gamma1",
        _LN,
        _cell(_layernorm_std_error, 1.0, 0.0),
        _NONE,
        _DECIMALS_8,
        "below",
    ),
    Fixture(
        "layernorm_stds_gamma3",
        _LN,
        _cell(_layernorm_std_error, 3.0, 5.0),
        _NONE,
        _DECIMALS_8,
        "below",
    ),
    # CS182 bn_drop.ipynb: seed 7, starter BN mode line, cells in order without the alt cell.
    _exact("cs182_expected_a_norm", _B182 + "2", _cs182_a_norm_error, 4.3424073226105975e-09, 1e-8),
    *(
        _exact(f"cs182_bn_backward_{key}", _B182 + "3", _cell(_cs182_bn_backward_stat, key), err)
        for key, err in (
            ("dx", 2.0718949604593364e-09),
            ("dgamma", 2.3439059333191323e-12),
            ("dbeta", 2.6356334174796573e-12),
        )
    ),
    _rounded(
        "cs182_expected_bn_forward_output",
        _B182 + "5",
        _cs182_bn_forward_output_error,
        "5.00e-08",
        1e-7,
    ),
    *(
        _exact(f"cs182_bn_loss_reg{reg}", _B182 + "5", _cell(_cs182_bn_loss, i), loss)
        for i, (reg, loss) in enumerate(((0, 2.225590601134652), (3.14, 7.264561247023963)))
    ),
    # TwoLayerNet: the notebook's asserts as stated, then the [derived] full-precision values.
    *(
        Fixture(
            f"twolayer_init_{w}_std",
            _TLN,
            _cell(_two_layer_init_std_error, w),
            _NONE,
            1e-4,
            "below",
        )
        for w in ("W1", "W2")
    ),
    Fixture(
        "twolayer_scores", _TLN, _cell(_two_layer_stat, "scores_abs_sum"), _NONE, 1e-6, "below"
    ),
    Fixture(
        "twolayer_scores_8_decimals",
        _TLN,
        _cell(_two_layer_stat, "scores_max_abs"),
        _NONE,
        _DECIMALS_8,
        "below",
    ),
    Fixture(
        "twolayer_loss_notebook_assert",
        _TLN,
        _cell(_two_layer_stat, "loss"),
        3.4702243556,
        1e-10,
        "abs",
    ),
    Fixture(
        "twolayer_loss_reg1_notebook_assert",
        _TLN,
        _cell(_two_layer_stat, "reg_loss"),
        26.5948426952,
        1e-10,
        "abs",
    ),
    _exact("twolayer_loss", _TLN, _cell(_two_layer_stat, "loss"), 3.4702243555953918),
    _exact(
        "twolayer_weights_sq_sum", _TLN, _cell(_two_layer_stat, "weights_sq_sum"), 46.24923667928638
    ),
    _exact("twolayer_loss_reg1", _TLN, _cell(_two_layer_stat, "reg_loss"), 26.594842695238583),
    _exact("twolayer_loss_reg0.7", _TLN, _cell(_two_layer_stat, "reg07_loss"), 19.657457193345625),
)
