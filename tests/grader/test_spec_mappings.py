"""The specs' API mappings, verified independently of any submission.

Running the reference through a spec's mapping (course argument -> canonical keep probability,
course state keys -> canonical keys) must reproduce the numbers variants.md derives for that
course's conventions.
"""

from __future__ import annotations

import numpy as np
import pytest

from assignments import spec_dir
from grader.checks.nets import course_kwargs
from grader.checks.optim import notebook_fixture
from grader.spec import Api, load_spec
from reference import optim
from reference.fc_net import FullyConnectedNet


def keep_of(api: Api, course_p: float) -> float:
    """Canonical keep probability for a course's dropout argument."""
    if course_p == api.fc_dropout_off:
        return 1.0
    return course_p if api.dropout_p == "keep" else 1.0 - course_p


@pytest.mark.parametrize(
    ("spec_id", "expected"),
    [
        # variants.md §5.4 [derived] (C147, drop semantics, mask 1[U < 1-p]/(1-p)).
        ("ucla-c147-2022", (2.3051948273987857, 2.29898614757146, 2.302437587710995)),
        # variants.md §6.4 item 10 [derived]: the same state and code in CS182.
        ("cs182-sp25", (2.3051948273987857, 2.29898614757146, 2.302437587710995)),
    ],
)
def test_drop_probability_fc_dropout_losses(spec_id: str, expected: tuple[float, ...]) -> None:
    api = load_spec(spec_dir() / f"{spec_id}.toml").api
    # The FC check cell runs right after the backward cell, whose seeded dropout call left the
    # RNG at "seed 123, then one 10x10 rand" (variants.md §5.4).
    np.random.seed(123)
    np.random.rand(10, 10)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    losses = []
    for course_p in (0, 0.25, 0.5):
        model = FullyConnectedNet(
            [H1, H2],
            input_dim=D,
            num_classes=C,
            weight_scale=5e-2,
            dtype=np.float64,
            dropout_keep_ratio=keep_of(api, course_p),
            seed=123,
        )
        losses.append(model.loss(X, y)[0])
    np.testing.assert_allclose(losses, expected, rtol=0, atol=1e-13)


def test_keep_probability_spec_maps_identity() -> None:
    api = load_spec(spec_dir() / "cs231n-2021.toml").api
    assert [keep_of(api, p) for p in (1, 0.75, 0.5)] == [1.0, 0.75, 0.5]


@pytest.mark.parametrize("spec_id", ["ucla-c147-2022", "cs182-sp25", "cs231n-2021"])
def test_constructor_arguments_map_to_course_names(spec_id: str) -> None:
    api = load_spec(spec_dir() / f"{spec_id}.toml").api
    kw = {
        "hidden_dims": [20, 30],
        "input_dim": 15,
        "num_classes": 10,
        "weight_scale": 5e-2,
        "reg": 0.0,
        "dtype": np.float64,
        "normalization": "batchnorm",
        "dropout_keep_ratio": 0.75,
        "seed": 123,
    }
    args, course = course_kwargs(api, "FullyConnectedNet", kw)
    assert args == [[20, 30]]
    assert course[api.fc_dropout_arg] == pytest.approx(0.75 if api.dropout_p == "keep" else 0.25)
    if api.fc_normalization == "use_batchnorm":
        assert course["use_batchnorm"] is True and "normalization" not in course
    else:
        assert course["normalization"] == "batchnorm"
    assert course["dtype"] == "float64" and course["seed"] == 123


def test_ucla_state_keys_reproduce_the_notebook_adam_fixture() -> None:
    """UCLA's 'v' (first moment) and 'a' (second) hold what the canonical 'm'/'v' hold (§4.2)."""
    keys = load_spec(spec_dir() / "ucla-c147-2022.toml").api.state_keys
    fx = notebook_fixture()
    _, config = optim.adam(
        fx["w"], fx["dw"], {"learning_rate": 1e-2, "m": fx["m"], "v": fx["v"], "t": 5}
    )
    course = {keys[k]: config[k] for k in ("m", "v", "t")}
    expected_a = np.array(
        [
            [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
            [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
            [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
            [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
        ]
    )
    np.testing.assert_allclose(course["a"], expected_a, atol=5e-9)
    assert course["t"] == 6 and set(course) == {"v", "a", "t"}
