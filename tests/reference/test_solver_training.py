"""The Solver trains: overfitting 50 synthetic examples, histories, and the CS182 npz format."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from reference import optim
from reference.data import synthetic_dataset
from reference.fc_net import FullyConnectedNet
from reference.solver import Solver


@pytest.fixture(scope="module")
def small() -> dict[str, np.ndarray]:
    data = synthetic_dataset(50, 50, 1, seed=3, image_shape=(3, 8, 8))
    return {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")}


def test_overfits_fifty_examples(small: dict[str, np.ndarray]) -> None:
    np.random.seed(0)
    model = FullyConnectedNet([100, 100], input_dim=3 * 8 * 8, weight_scale=5e-2, dtype=np.float64)
    solver = Solver(model, small, update_rule=optim.adam, optim_config={"learning_rate": 1e-3},
                    num_epochs=20, batch_size=25, verbose=False)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 21
    assert len(solver.loss_history) == 40


def test_update_rule_by_name_and_bad_arguments(small: dict[str, np.ndarray]) -> None:
    model = FullyConnectedNet([10], input_dim=3 * 8 * 8)
    assert Solver(model, small, update_rule="sgd_momentum", optim_module=optim).update_rule is optim.sgd_momentum
    with pytest.raises(ValueError, match="Invalid update_rule"):
        Solver(model, small, update_rule="nope", optim_module=optim)
    with pytest.raises(ValueError, match="Unrecognized arguments"):
        Solver(model, small, update_rule=optim.sgd, learning_rate=1.0)


def test_same_seed_same_run(small: dict[str, np.ndarray]) -> None:
    histories = []
    for _ in range(2):
        np.random.seed(7)
        model = FullyConnectedNet([20], input_dim=3 * 8 * 8, dtype=np.float64)
        solver = Solver(model, small, update_rule=optim.sgd_momentum, num_epochs=2, batch_size=10, verbose=False)
        solver.train()
        histories.append(solver.loss_history)
    assert histories[0] == histories[1]


def test_record_histories_as_npz_round_trips(small: dict[str, np.ndarray], tmp_path) -> None:
    np.random.seed(1)
    model = FullyConnectedNet([20], input_dim=3 * 8 * 8, dtype=np.float64)
    solver = Solver(model, small, update_rule=optim.adam, num_epochs=2, batch_size=10, verbose=False, lr_decay=0.5)
    solver.train()
    assert solver.optim_configs["W1"]["learning_rate"] == pytest.approx(1e-3 * 0.25)
    path = tmp_path / "hist.npz"
    solver.record_histories_as_npz(path)
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["train_losses"], solver.loss_history)
        np.testing.assert_array_equal(npz["train_accs"], solver.train_acc_history)
        np.testing.assert_array_equal(npz["val_accs"], solver.val_acc_history)


@pytest.mark.parametrize("module", ["reference.solver", "reference.gradient_check", "reference.data"])
def test_given_modules_import_no_solution_module(module: str) -> None:
    code = (f"import sys, {module}\n"
            "bad = [m for m in ('reference.layers', 'reference.layer_utils', 'reference.optim', 'reference.fc_net')"
            " if m in sys.modules]\nassert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
