"""A kit's oracle replays the reference: answers, the dicts a call changes, nets and their
losses, the global generator; and says so when asked what nobody recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.checks.oracle import LiveOracle
from grader.errors import NotInKit
from grader.kit.tables import RecordingOracle, TableOracle

NET = {"hidden_dims": [6, 5], "input_dim": 4, "num_classes": 3, "normalization": "batchnorm",
       "weight_scale": 0.1, "dtype": np.float64}  # fmt: skip


def bn_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, object]]:
    rng = np.random.RandomState(3)
    return rng.randn(8, 4), np.ones(4), np.zeros(4), {"mode": "train", "momentum": 0.9}


def recorded(tmp_path: Path) -> tuple[RecordingOracle, TableOracle, dict[str, object]]:
    """Record a batchnorm call, a net's construction and losses, a mistake; replay them."""
    recording = RecordingOracle(LiveOracle())
    x, gamma, beta, bn_param = bn_inputs()
    recording.call("batchnorm_forward", x, gamma, beta, bn_param)
    np.random.seed(5)
    net = recording.model("FullyConnectedNet", **NET)
    after_build = np.random.get_state()[1].copy()
    X, y = np.random.RandomState(1).randn(3, 4), np.array([0, 2, 1])
    live = {"loss": net.loss(X, y), "scores": net.loss(X), "after_build": after_build}
    recording.mistakes("batchnorm_forward", x, gamma, beta, {"mode": "train"})
    assert not recording.live
    recording.save(tmp_path)
    return recording, TableOracle(tmp_path), live


def test_a_call_is_answered_and_its_dict_changed_as_the_reference_did(tmp_path: Path) -> None:
    _, table, _ = recorded(tmp_path)
    x, gamma, beta, bn_param = bn_inputs()
    out, _cache = table.call("batchnorm_forward", x * (1 + 1e-14), gamma, beta, bn_param)
    expected = LiveOracle().call("batchnorm_forward", *bn_inputs())[0]
    np.testing.assert_array_equal(out, expected)
    assert set(bn_param) >= {"running_mean", "running_var"}  # written, as the reference writes


def test_a_net_replays_its_parameters_losses_and_the_generator(tmp_path: Path) -> None:
    _, table, live = recorded(tmp_path)
    np.random.seed(5)
    net = table.model("FullyConnectedNet", **NET)
    assert np.array_equal(np.random.get_state()[1], live["after_build"])
    X, y = np.random.RandomState(1).randn(3, 4), np.array([0, 2, 1])
    loss, grads = net.loss(X, y)
    assert loss == live["loss"][0]
    assert sorted(grads) == sorted(live["loss"][1])
    # The training call moved the running statistics; test mode sees them, as in the reference.
    np.testing.assert_array_equal(net.loss(X), live["scores"])
    assert "running_mean" in net.bn_params[0]


def test_a_net_with_other_parameters_is_not_in_the_kit(tmp_path: Path) -> None:
    _, table, _ = recorded(tmp_path)
    np.random.seed(5)
    net = table.model("FullyConnectedNet", **NET)
    net.params["W1"] = net.params["W1"] + 0.01  # what a student's training would have made
    with pytest.raises(NotInKit, match="instructor"):
        net.loss(np.random.RandomState(1).randn(3, 4), np.array([0, 2, 1]))
    with pytest.raises(NotInKit):
        table.model("FullyConnectedNet", **{**NET, "hidden_dims": [7]})


def test_unrecorded_inputs_raise_but_unrecorded_mistakes_are_none(tmp_path: Path) -> None:
    _, table, _ = recorded(tmp_path)
    x, gamma, beta, bn_param = bn_inputs()
    with pytest.raises(NotInKit):
        table.call("batchnorm_forward", x + 1e-3, gamma, beta, bn_param)
    assert table.mistakes("batchnorm_forward", x + 1e-3, gamma, beta, {"mode": "train"}) == []
    found = table.mistakes("batchnorm_forward", x, gamma, beta, {"mode": "train"})
    assert found and all(isinstance(message, str) for message, _ in found)


def test_damaged_answers_are_a_clear_error(tmp_path: Path) -> None:
    recorded(tmp_path)
    (tmp_path / "answers.json").write_text("{not json", encoding="utf-8")
    from grader.errors import GraderError

    with pytest.raises(GraderError, match="unreadable"):
        TableOracle(tmp_path)
