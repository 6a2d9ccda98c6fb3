"""Update rules: the notebooks' fixtures (variants.md §1.3) and the config contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reference import optim
from tests.reference.conftest import rel_error

RULES = ("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam")


def grid(lo: float, hi: float) -> np.ndarray:
    """The notebooks' ``np.linspace(lo, hi, num=N*D).reshape(N, D)`` with N, D = 4, 5."""
    return np.linspace(lo, hi, num=20).reshape(4, 5)


# Expected arrays copied from variants.md §1.3 (same in the S17, S24, U18, C147, DASE notebooks).
MOMENTUM_NEXT_W = [
    [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
    [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
    [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
    [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
]
MOMENTUM_VELOCITY = [
    [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
    [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
    [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
    [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
]
NESTEROV_NEXT_W = [
    [0.08714, 0.15246105, 0.21778211, 0.28310316, 0.34842421],
    [0.41374526, 0.47906632, 0.54438737, 0.60970842, 0.67502947],
    [0.74035053, 0.80567158, 0.87099263, 0.93631368, 1.00163474],
    [1.06695579, 1.13227684, 1.19759789, 1.26291895, 1.32824],
]
RMSPROP_NEXT_W = [
    [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
    [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
    [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
    [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
]
RMSPROP_CACHE = [
    [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
    [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
    [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
    [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
]
ADAM_NEXT_W = [
    [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
    [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
    [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
    [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
]
ADAM_V = [
    [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
    [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
    [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
    [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
]
ADAM_M = [
    [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
    [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
    [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
    [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
]


def fixture_config(rule: str) -> dict[str, Any]:
    """The notebooks' config for ``rule`` (learning rate and starting state)."""
    if rule in ("sgd_momentum", "sgd_nesterov_momentum"):
        return {"learning_rate": 1e-3, "velocity": grid(0.6, 0.9)}
    if rule == "rmsprop":
        return {"learning_rate": 1e-2, "cache": grid(0.6, 0.9)}
    return {"learning_rate": 1e-2, "m": grid(0.6, 0.9), "v": grid(0.7, 0.5), "t": 5}


# (rule, output, expected array, printed rel_error, notebook bound). The printouts are exact
# replays of one formula each (variants.md §1.3): full reprs from ST20/C147 (§3b.5 items 6-7,
# §5.4); Nesterov from seed 002, printed by Python 2 with 12 significant digits (§4.4 item 3),
# which is still finer than the 1e-12 asked for. "Keep the notebook thresholds as well": the
# bound is "< 1e-8" for momentum and the states, "around 1e-7" for RMSProp/Adam (issue: < 1e-7,
# < 1.2e-7); the Nesterov next_w cell states none.
FIXTURES = [
    ("sgd_momentum", "next_w", MOMENTUM_NEXT_W, 8.882347033505819e-09, 1e-8),
    ("sgd_momentum", "velocity", MOMENTUM_VELOCITY, 4.269287743278663e-09, 1e-8),
    ("sgd_nesterov_momentum", "next_w", NESTEROV_NEXT_W, 1.08751868451e-08, np.inf),
    ("sgd_nesterov_momentum", "velocity", MOMENTUM_VELOCITY, 4.26928774328e-09, 1e-8),
    ("rmsprop", "next_w", RMSPROP_NEXT_W, 9.524687511038133e-08, 1e-7),
    ("rmsprop", "cache", RMSPROP_CACHE, 2.6477955807156126e-09, 1e-8),
    ("adam", "next_w", ADAM_NEXT_W, 1.1395691798535431e-07, 1.2e-7),
    ("adam", "v", ADAM_V, 4.208314038113071e-09, 1e-8),
    ("adam", "m", ADAM_M, 4.214963193114416e-09, 1e-8),
]


@pytest.mark.parametrize(
    ("rule", "output", "expected", "printed", "bound"),
    FIXTURES,
    ids=[f"{r}-{o}" for r, o, *_ in FIXTURES],
)
def test_notebook_fixture(
    rule: str, output: str, expected: list[list[float]], printed: float, bound: float
) -> None:
    next_w, config = getattr(optim, rule)(grid(-0.4, 0.6), grid(-0.6, 0.4), fixture_config(rule))
    actual = next_w if output == "next_w" else config[output]
    error = rel_error(np.array(expected), actual)
    assert abs(error - printed) <= 1e-12, f"{error!r} vs printed {printed!r}"
    assert error < bound


@pytest.mark.parametrize(
    ("rule", "wrong_printout"),
    [
        ("rmsprop", 9.50264522989e-08),  # epsilon inside the root (seed 002's printout)
        ("adam", 1.1356e-07),  # the folded step size alpha_t
    ],
    ids=["rmsprop-eps-inside-root", "adam-folded-step"],
)
def test_exact_replay_tells_equivalent_formulas_apart(rule: str, wrong_printout: float) -> None:
    """§1.3: these variants pass the notebooks' thresholds; abs 1e-12 tells them apart."""
    w, dw = grid(-0.4, 0.6), grid(-0.6, 0.4)
    if rule == "rmsprop":
        cache = 0.99 * grid(0.6, 0.9) + 0.01 * dw**2
        variant = w - 1e-2 * dw / np.sqrt(cache + 1e-8)
        expected, printed = RMSPROP_NEXT_W, 9.524687511038133e-08
    else:
        m = 0.9 * grid(0.6, 0.9) + 0.1 * dw
        v = 0.999 * grid(0.7, 0.5) + 0.001 * dw**2
        alpha_t = 1e-2 * np.sqrt(1 - 0.999**6) / (1 - 0.9**6)
        variant = w - alpha_t * m / (np.sqrt(v) + 1e-8)
        expected, printed = ADAM_NEXT_W, 1.1395691798535431e-07
    error = rel_error(np.array(expected), variant)
    assert error == pytest.approx(wrong_printout, rel=1e-3)
    assert error < 1.2e-7  # the notebook threshold alone would accept it
    assert abs(error - printed) > 1e-10


def test_adam_fixture_increments_t_before_use() -> None:
    _, config = optim.adam(grid(-0.4, 0.6), grid(-0.6, 0.4), fixture_config("adam"))
    assert config["t"] == 6


DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "sgd_nesterov_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
STATE = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "sgd_nesterov_momentum": ("velocity",),
    "rmsprop": ("cache",),
    "adam": ("m", "v"),
}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("shape", [(3,), (4, 5), (2, 3, 4)])
def test_none_config_gets_defaults_and_state(rule: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    w, dw = rng.standard_normal(shape), rng.standard_normal(shape)
    next_w, config = getattr(optim, rule)(w, dw)
    assert next_w.shape == shape
    for key, value in DEFAULTS[rule].items():
        assert config[key] == value
    for key in STATE[rule]:
        assert config[key].shape == shape
    if rule == "adam":
        assert config["t"] == 1


@pytest.mark.parametrize("rule", RULES)
def test_given_hyperparameters_are_kept(rule: str) -> None:
    config = {key: value * 0.5 for key, value in DEFAULTS[rule].items()}
    given = dict(config)
    _, returned = getattr(optim, rule)(np.ones(3), np.ones(3), config)
    assert returned is config
    for key, value in given.items():
        assert returned[key] == value


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", [0, 1])
def test_state_written_back_and_inputs_untouched(rule: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, dw = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    config: dict[str, Any] = {key: rng.random((4, 5)) + 0.1 for key in STATE[rule]}
    if rule == "adam":
        config["t"] = 3
    passed = {key: value for key, value in config.items() if isinstance(value, np.ndarray)}
    before = {key: value.copy() for key, value in passed.items()}
    w0, dw0 = w.copy(), dw.copy()
    next_w, returned = getattr(optim, rule)(w, dw, config)
    assert returned is config
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(dw, dw0)
    assert not np.array_equal(next_w, w0)
    for key, array in passed.items():
        # the new state is stored under the key; the array passed in is not modified in place
        np.testing.assert_array_equal(array, before[key])
        assert not np.array_equal(returned[key], before[key])
    if rule == "adam":
        assert returned["t"] == 4


def test_adam_counts_steps() -> None:
    w: np.ndarray = np.ones(3)
    config: dict[str, Any] | None = None
    for step in range(1, 4):
        w, config = optim.adam(w, np.full(3, 0.5), config)
        assert config["t"] == step


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_update_equations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, dw, v = (rng.standard_normal((3, 4)) for _ in range(3))
    lr, mu = 1e-2, 0.9

    next_w, _ = optim.sgd(w, dw, {"learning_rate": lr})
    np.testing.assert_allclose(next_w, w - lr * dw, rtol=1e-14)

    next_w, config = optim.sgd_momentum(w, dw, {"learning_rate": lr, "velocity": v})
    np.testing.assert_allclose(config["velocity"], mu * v - lr * dw, rtol=1e-14)
    np.testing.assert_allclose(next_w, w + config["velocity"], rtol=1e-14)

    next_w, config = optim.sgd_nesterov_momentum(w, dw, {"learning_rate": lr, "velocity": v})
    v_next = mu * v - lr * dw
    np.testing.assert_allclose(config["velocity"], v_next, rtol=1e-14)
    np.testing.assert_allclose(next_w, w - mu * v + (1 + mu) * v_next, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_steps_from_zero_state(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, dw = rng.standard_normal(50), rng.standard_normal(50)
    # Momentum from rest is one SGD step.
    np.testing.assert_allclose(optim.sgd_momentum(w, dw)[0], optim.sgd(w, dw)[0], rtol=1e-14)
    # Adam's bias correction makes m_hat = dw and v_hat = dw^2: a step of about alpha * sign(dw).
    np.testing.assert_allclose(
        optim.adam(w, dw)[0], w - 1e-3 * dw / (np.abs(dw) + 1e-8), rtol=1e-12
    )
    # RMSProp's first cache is (1 - rho) dw^2: a step of about alpha / sqrt(1 - rho) = 10 alpha.
    np.testing.assert_allclose(
        optim.rmsprop(w, dw)[0], w - 1e-2 * dw / (0.1 * np.abs(dw) + 1e-8), rtol=1e-12
    )


def test_rmsprop_epsilon_is_outside_the_root() -> None:
    # With a zero gradient and cache the step is 0 / (0 + eps) = 0; big eps shows where it sits.
    w, dw = np.zeros(1), np.array([1.0])
    next_w, _ = optim.rmsprop(
        w, dw, {"learning_rate": 1.0, "decay_rate": 0.0, "epsilon": 1.0, "cache": np.zeros(1)}
    )
    np.testing.assert_allclose(next_w, [-1.0 / (1.0 + 1.0)])


@pytest.mark.parametrize("rule", RULES)
def test_float32_parameters_stay_float32(rule: str) -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    dw = rng.standard_normal((4, 5)).astype(np.float32)
    next_w, config = getattr(optim, rule)(w, dw)
    assert next_w.dtype == np.float32
    for key in STATE[rule]:
        assert config[key].dtype == np.float32
