"""The specs' checks replay the notebooks' seeded cells: the expected values they compute equal the
numbers printed in the seed notebooks (variants.md), so a student who matches the notebook
matches the grader. (Listed per course in assignments/README.md.)"""

from __future__ import annotations

import numpy as np
import pytest

from grader import api
from grader.checks import models, nets
from grader.checks.optim import notebook_fixture
from grader.spec import Check
from reference import fc_net, optim
from reference.gradient_check import rel_error


class _Recorder:
    """Just enough of a check context to build the reference side of a model check."""

    def __init__(self, check: Check, spec_id: str) -> None:
        self.check = check
        self.api = api.get_spec(spec_id).api
        self.rng = np.random.RandomState(check.seed)

    def param(self, name: str, default: object) -> object:
        return self.check.params.get(name, default)


def reference_loss(spec_id: str, check_id: str) -> float:
    check = next(c for c in api.get_spec(spec_id).checks if c.id == check_id)
    ctx = _Recorder(check, spec_id)
    kw = nets.canonical_kwargs(ctx)  # type: ignore[arg-type]
    kw["dtype"] = np.float64
    np.random.seed(check.seed)
    n = int(check.params.get("num_inputs", 2))
    X = np.random.randn(n, kw["input_dim"])
    y = np.random.randint(kw["num_classes"], size=n)
    return float(fc_net.FullyConnectedNet(**kw).loss(X, y)[0])


@pytest.mark.parametrize(
    ("spec_id", "check_id", "printed"),
    [
        ("cs231n-2021", "fc_loss", 2.3004790897684924),  # seed 000 / §2.4 item 4, keep 1
        ("cs231n-2021", "fc_batchnorm_loss", None),  # 4 inputs: not a notebook cell
        ("dasecv-2021", "fc_loss", 2.3004790897684924),  # seed 004 §7.4 item 4
        ("cs231n-2018", "fc_loss", 2.3004790897684924),  # §3b.5 (= ST20)
    ],
)
def test_fc_initial_loss_replays_the_notebook(
    spec_id: str, check_id: str, printed: float | None
) -> None:
    value = reference_loss(spec_id, check_id)
    if printed is None:
        assert np.isfinite(value)
    else:
        assert value == pytest.approx(printed, abs=1e-12)


@pytest.mark.parametrize(
    ("rule", "canonical_state", "printed"),
    [
        ("sgd_momentum", {"velocity": "velocity"}, 8.882347033505819e-09),  # seeds 001/002, ST20
        ("rmsprop", {"cache": "cache"}, 9.524687511038133e-08),  # ST20 (epsilon outside the root)
        ("adam", {"m": "m", "v": "v"}, 1.1395691798535431e-07),  # seeds 001/002, ST20
    ],
)
def test_optimizer_fixtures_replay_the_printed_errors(
    rule: str, canonical_state: dict[str, str], printed: float
) -> None:
    """The 'notebook' optimizer fixture gives the printed next_w relative error against the
    notebook's expected array (variants.md §1.3)."""
    fx = notebook_fixture()
    config = {
        "learning_rate": 1e-3 if rule == "sgd_momentum" else 1e-2,
        **{k: fx[k] for k in canonical_state},
        **({"t": 5} if rule == "adam" else {}),
    }
    next_w, _ = getattr(optim, rule)(fx["w"], fx["dw"], config)
    expected = {
        "sgd_momentum": [
            [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
            [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
            [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
            [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
        ],
        "rmsprop": [
            [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
            [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
            [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
            [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
        ],
        "adam": [
            [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
            [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
            [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
            [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
        ],
    }[rule]
    assert rel_error(next_w, np.array(expected)) == pytest.approx(printed, rel=1e-6)


def test_cs182_expected_bn_forward_output_replays_seed_003() -> None:
    """fc_bn_forward_output's linspace fixture gives the notebook's expected output (5.00e-08)."""
    spec = api.get_spec("cs182-sp25")
    check = next(c for c in spec.checks if c.id == "fc_bn_forward_output")
    ctx = _Recorder(check, "cs182-sp25")
    kw = nets.canonical_kwargs(ctx)  # type: ignore[arg-type]
    kw["dtype"] = np.float64
    model = fc_net.FullyConnectedNet(**kw, bn_mode_line=spec.api.bn_mode_line)
    models._linspace_params(model.params)
    n, d = 2, kw["input_dim"]
    X = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T
    expected = np.array(
        [
            [
                0.28397701,
                0.46532063,
                0.64666426,
                0.82800788,
                1.0093515,
                1.19069513,
                1.37203875,
                1.55338238,
                1.734726,
                1.91606962,
            ],
            [
                -0.9,
                -0.78888889,
                -0.67777778,
                -0.56666667,
                -0.45555556,
                -0.34444444,
                -0.23333333,
                -0.12222222,
                -0.01111111,
                0.1,
            ],
        ]
    )
    assert rel_error(model.loss(X), expected) == pytest.approx(5.00e-08, abs=5e-10)


@pytest.mark.parametrize(
    ("check_id", "printed"), [("twolayer_loss", 3.4702243556), ("twolayer_loss_reg", 26.5948426952)]
)
def test_two_layer_net_fixture_replays_the_notebook_asserts(check_id: str, printed: float) -> None:
    """§10.1: the linspace fixture, y = [0, 5, 1], gives the notebooks' asserted losses (1e-10)."""
    check = next(c for c in api.get_spec("cs231n-2018").checks if c.id == check_id)
    ctx = _Recorder(check, "cs231n-2018")
    kw = nets.canonical_kwargs(ctx)  # type: ignore[arg-type]
    model = fc_net.TwoLayerNet(**kw)
    models._linspace_params(model.params)
    n, d = 3, kw["input_dim"]
    X = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T
    loss, _ = model.loss(X, np.asarray(check.params["labels"]))
    assert abs(loss - printed) < 1e-10
