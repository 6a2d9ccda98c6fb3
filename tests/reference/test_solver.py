"""The given Solver (variants.md §1.4, §6.2): bookkeeping, draw order, files, and real training.

Most tests use small models defined here (a linear softmax classifier, and scripted models whose
accuracy or recorded calls are known), so they do not depend on ``reference.fc_net``.
"""

from __future__ import annotations

import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from reference import optim
from reference.data import synthetic_dataset
from reference.solver import Solver

SOLUTION_MODULES = (
    "reference.layers",
    "reference.optim",
    "reference.fc_net",
    "reference.layer_utils",
)
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference"


class LinearSoftmax:
    """scores = X W + b with a softmax loss; initialised by its own Generator (no global draws)."""

    def __init__(self, input_dim: int, num_classes: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.params = {
            "W": 1e-2 * rng.standard_normal((input_dim, num_classes)),
            "b": np.zeros(num_classes),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        x = X.reshape(X.shape[0], -1)
        scores = x @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        n = x.shape[0]
        dscores = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1
        dscores /= n
        return -log_probs[np.arange(n), y].mean(), {"W": x.T @ dscores, "b": dscores.sum(axis=0)}


def blobs(
    n_train: int = 60, n_val: int = 30, dim: int = 6, classes: int = 3, seed: int = 0
) -> dict[str, np.ndarray]:
    """Gaussian clusters, one per class (linearly separable in practice)."""
    rng = np.random.default_rng(seed)
    means = 3 * rng.standard_normal((classes, dim))
    data: dict[str, np.ndarray] = {}
    for split, n in (("train", n_train), ("val", n_val)):
        y = rng.integers(classes, size=n)
        data[f"X_{split}"] = means[y] + rng.standard_normal((n, dim))
        data[f"y_{split}"] = y
    return data


def train(data: dict[str, np.ndarray], seed: int = 0, **kwargs: Any) -> Solver:
    np.random.seed(seed)
    kwargs.setdefault("update_rule", optim.sgd)
    kwargs.setdefault("verbose", False)
    solver = Solver(LinearSoftmax(data["X_train"].shape[1], 3), data, **kwargs)
    solver.train()
    return solver


# ---------------------------------------------------------------------------------------------
# construction


def test_defaults_and_attributes() -> None:
    data = blobs()
    solver = Solver(LinearSoftmax(6, 3), data, update_rule=optim.sgd)
    assert (solver.lr_decay, solver.batch_size, solver.num_epochs) == (1.0, 100, 10)
    assert solver.num_train_samples == 1000
    assert solver.num_val_samples is None and solver.checkpoint_name is None
    assert (solver.print_every, solver.verbose, solver.optim_config) == (10, True, {})
    assert solver.X_train is data["X_train"] and solver.y_val is data["y_val"]
    assert solver.epoch == 0 and solver.best_val_acc == 0 and solver.best_params == {}
    assert solver.loss_history == solver.train_acc_history == solver.val_acc_history == []
    assert solver.update_rule is optim.sgd


def test_one_shallow_config_copy_per_parameter() -> None:
    shared = np.ones(3)
    optim_config = {"learning_rate": 0.5, "extra": shared}
    solver = Solver(LinearSoftmax(6, 3), blobs(), update_rule=optim.sgd, optim_config=optim_config)
    assert set(solver.optim_configs) == {"W", "b"}
    assert solver.optim_configs["W"] == solver.optim_configs["b"] == optim_config
    assert solver.optim_configs["W"] is not solver.optim_configs["b"]
    assert solver.optim_configs["W"] is not optim_config
    assert solver.optim_configs["W"]["extra"] is shared  # shallow, as in the starters


@pytest.mark.parametrize(
    "name", ["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"]
)
def test_update_rule_by_name_from_optim_module(name: str) -> None:
    solver = Solver(LinearSoftmax(6, 3), blobs(), update_rule=name, optim_module=optim)
    assert solver.update_rule is getattr(optim, name)


@pytest.mark.parametrize(
    ("rule", "module"),
    [
        ("sgd", None),  # a name needs the module to look it up in
        ("adamw", optim),  # not in the module
        ("__doc__", optim),  # in the module but not callable
        (3, None),  # neither a name nor a callable
    ],
)
def test_invalid_update_rule(rule: Any, module: Any) -> None:
    with pytest.raises(ValueError, match=r'^Invalid update_rule "'):
        Solver(LinearSoftmax(6, 3), blobs(), update_rule=rule, optim_module=module)


def test_default_update_rule_needs_optim_module() -> None:
    with pytest.raises(ValueError, match=r'^Invalid update_rule "sgd"$'):
        Solver(LinearSoftmax(6, 3), blobs())
    assert Solver(LinearSoftmax(6, 3), blobs(), optim_module=optim).update_rule is optim.sgd


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"learning_rate": 1.0}, 'Unrecognized arguments "learning_rate"'),
        ({"seed": 1, "momentum": 0.9}, 'Unrecognized arguments "seed", "momentum"'),
    ],
)
def test_unknown_keyword_arguments(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Solver(LinearSoftmax(6, 3), blobs(), update_rule=optim.sgd, **extra)


# ---------------------------------------------------------------------------------------------
# training bookkeeping


@pytest.mark.parametrize(
    ("n_train", "batch_size", "num_epochs", "checks"),
    [
        (60, 20, 3, 4),  # 3 iterations per epoch: t == 0 plus one check per epoch
        (61, 20, 2, 3),  # the remainder is dropped: still 3 iterations per epoch
        (50, 100, 2, 2),  # batch > N: 1 iteration per epoch, t == 0 is also the first epoch end
        (60, 7, 1, 2),
    ],
)
def test_history_lengths(n_train: int, batch_size: int, num_epochs: int, checks: int) -> None:
    solver = train(blobs(n_train=n_train), batch_size=batch_size, num_epochs=num_epochs)
    iterations = num_epochs * max(n_train // batch_size, 1)
    assert len(solver.loss_history) == iterations
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == checks
    assert solver.epoch == num_epochs


@pytest.mark.parametrize("lr_decay", [1.0, 0.5, 0.9])
@pytest.mark.parametrize("rule", [optim.sgd_momentum, optim.adam])
def test_lr_decay_per_epoch(lr_decay: float, rule: Any) -> None:
    solver = train(
        blobs(),
        update_rule=rule,
        optim_config={"learning_rate": 1e-2},
        lr_decay=lr_decay,
        num_epochs=3,
        batch_size=20,
    )
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(1e-2 * lr_decay**3, rel=1e-12)
    assert solver.optim_config == {"learning_rate": 1e-2}  # the caller's dict is not decayed
    if rule is optim.adam:  # state carried per parameter across all 9 steps
        assert all(config["t"] == 9 for config in solver.optim_configs.values())
        assert solver.optim_configs["W"]["m"].shape == (6, 3)


def test_training_reduces_the_loss_and_learns() -> None:
    solver = train(
        blobs(),
        update_rule=optim.adam,
        optim_config={"learning_rate": 5e-2},
        num_epochs=10,
        batch_size=20,
    )
    assert np.mean(solver.loss_history[-3:]) < 0.5 * np.mean(solver.loss_history[:3])
    assert solver.best_val_acc >= 0.9
    assert solver.check_accuracy(solver.X_val, solver.y_val) == solver.best_val_acc


class ScriptedModel:
    """``params['w']`` counts the steps (in place); test-mode accuracy is ``schedule[w]``."""

    def __init__(self, schedule: dict[int, float]) -> None:
        self.params = {"w": np.zeros(1)}
        self.schedule = schedule

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        if y is not None:
            return float(self.params["w"][0]), {"w": np.ones(1)}
        n_right = round(self.schedule.get(int(self.params["w"][0]), 0.0) * X.shape[0])
        scores = np.zeros((X.shape[0], 2))
        scores[:n_right, 0] = 1.0  # labels are all 0: the first n_right rows are right
        scores[n_right:, 1] = 1.0
        return scores


def add_in_place(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Any:
    w += dw  # update rules may update in place, so best_params must be copies
    return w, config


def scripted_data() -> dict[str, np.ndarray]:
    return {
        "X_train": np.zeros((4, 1)),
        "y_train": np.zeros(4, dtype=int),
        "X_val": np.zeros((4, 1)),
        "y_val": np.zeros(4, dtype=int),
    }


def test_best_params_are_copies_and_replace_model_params() -> None:
    # 4 rows, batch 2: 2 iterations per epoch, 3 epochs; checks after steps 1, 2, 4, 6.
    model = ScriptedModel({1: 0.25, 2: 0.5, 4: 1.0, 6: 1.0})
    solver = Solver(
        model,
        scripted_data(),
        update_rule=add_in_place,
        batch_size=2,
        num_epochs=3,
        optim_config={"learning_rate": 1.0},
        verbose=False,
    )
    solver.train()
    assert solver.loss_history == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert solver.val_acc_history == [0.25, 0.5, 1.0, 1.0]
    assert solver.best_val_acc == 1.0
    # the first best (step 4) wins a tie, and survives the in-place updates that followed
    np.testing.assert_array_equal(model.params["w"], [4.0])
    assert model.params is solver.best_params


def test_params_become_empty_when_validation_never_improves() -> None:
    # The starters' behaviour, kept: best_params stays {} and still replaces model.params.
    model = ScriptedModel({})
    solver = Solver(
        model,
        scripted_data(),
        update_rule=add_in_place,
        batch_size=2,
        num_epochs=1,
        optim_config={"learning_rate": 1.0},
        verbose=False,
    )
    solver.train()
    assert solver.val_acc_history == [0.0, 0.0]
    assert model.params == {}


# ---------------------------------------------------------------------------------------------
# random draws


def legacy_state() -> tuple[Any, ...]:
    """The global legacy generator's state tuple (name, keys, pos, has_gauss, cached_gaussian)."""
    return cast(tuple[Any, ...], np.random.get_state())


class RecordingModel:
    """Rows of X are their own indices; records every batch it is given."""

    def __init__(self) -> None:
        self.params = {"w": np.zeros(1)}
        self.train_batches: list[np.ndarray] = []
        self.test_rows: list[np.ndarray] = []

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        rows = X[:, 0].astype(int)
        if y is None:
            self.test_rows.append(rows)
            return np.zeros((X.shape[0], 2))
        self.train_batches.append(rows)
        return 0.0, {"w": np.zeros(1)}


@pytest.mark.parametrize(
    ("n_train", "n_val", "batch_size", "num_epochs", "n_train_acc", "n_val_acc"),
    [
        (30, 12, 10, 2, 20, 5),  # both accuracy checks subsample
        (30, 12, 7, 3, 1000, None),  # neither does (N <= num_samples, or None)
        (8, 5, 20, 2, 4, None),  # batch > N; train subsample only
    ],
)
@pytest.mark.parametrize("seed", [0, 231])
def test_draw_order_matches_the_starter(
    n_train: int,
    n_val: int,
    batch_size: int,
    num_epochs: int,
    n_train_acc: int,
    n_val_acc: int | None,
    seed: int,
) -> None:
    data = {
        "X_train": np.arange(n_train, dtype=float)[:, None],
        "y_train": np.zeros(n_train, int),
        "X_val": 1000 + np.arange(n_val, dtype=float)[:, None],
        "y_val": np.zeros(n_val, int),
    }
    # Replay of the canonical order: one minibatch choice per iteration; at each check one
    # choice for the train subset and one for the val subset, each only when it subsamples.
    np.random.seed(seed)
    per_epoch = max(n_train // batch_size, 1)
    iterations = num_epochs * per_epoch
    batches, subsets = [], []
    for t in range(iterations):
        batches.append(np.random.choice(n_train, batch_size))
        if t == 0 or (t + 1) % per_epoch == 0 or t == iterations - 1:
            subsets.append(
                np.random.choice(n_train, n_train_acc)
                if n_train > n_train_acc
                else np.arange(n_train)
            )
            val_subsamples = n_val_acc is not None and n_val > n_val_acc
            subsets.append(
                1000 + (np.random.choice(n_val, n_val_acc) if val_subsamples else np.arange(n_val))
            )
    expected_state = legacy_state()

    np.random.seed(seed)
    model = RecordingModel()
    Solver(
        model,
        data,
        update_rule=optim.sgd,
        batch_size=batch_size,
        num_epochs=num_epochs,
        num_train_samples=n_train_acc,
        num_val_samples=n_val_acc,
        verbose=False,
    ).train()
    state = legacy_state()

    assert len(model.train_batches) == len(batches)
    for got, want in zip(model.train_batches, batches, strict=True):
        np.testing.assert_array_equal(got, want)
    # check_accuracy scores in chunks of 100 rows; all chunks here are single
    assert len(model.test_rows) == len(subsets)
    for got, want in zip(model.test_rows, subsets, strict=True):
        np.testing.assert_array_equal(got, want)
    assert state[0] == expected_state[0] and state[2:] == expected_state[2:]
    np.testing.assert_array_equal(state[1], expected_state[1])  # no extra draws anywhere


@pytest.mark.parametrize("rule", [optim.sgd_momentum, optim.adam])
def test_same_seed_same_run(rule: Any) -> None:
    runs = [
        train(
            blobs(), seed=seed, update_rule=rule, num_epochs=2, batch_size=10, num_train_samples=20
        )
        for seed in (5, 5, 6)
    ]
    assert runs[0].loss_history == runs[1].loss_history
    assert runs[0].train_acc_history == runs[1].train_acc_history
    assert runs[0].loss_history != runs[2].loss_history


def test_check_accuracy_chunks_and_subsamples() -> None:
    model = RecordingModel()
    solver = Solver(model, scripted_data(), update_rule=optim.sgd)
    X, y = np.arange(250, dtype=float)[:, None], np.zeros(250, dtype=int)
    assert solver.check_accuracy(X, y) == 1.0  # zero scores: argmax 0 everywhere
    assert [len(rows) for rows in model.test_rows] == [100, 100, 50]
    model.test_rows.clear()
    assert solver.check_accuracy(X, y, batch_size=64) == 1.0
    assert [len(rows) for rows in model.test_rows] == [64, 64, 64, 58]
    model.test_rows.clear()
    np.random.seed(3)
    expected = np.random.choice(250, 30)
    np.random.seed(3)
    solver.check_accuracy(X, y, num_samples=30)
    np.testing.assert_array_equal(np.concatenate(model.test_rows), expected)


def test_check_accuracy_value() -> None:
    model = ScriptedModel({0: 0.3})
    solver = Solver(model, scripted_data(), update_rule=optim.sgd)
    X, y = np.zeros((10, 1)), np.zeros(10, dtype=int)
    accuracy = solver.check_accuracy(X, y, batch_size=3)
    assert isinstance(accuracy, float)
    # each chunk of 3 (and the last of 1) gets round(0.3 * rows) right: 1 + 1 + 1 + 0
    assert accuracy == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------------
# output and files


def test_printed_lines(capsys: pytest.CaptureFixture[str]) -> None:
    solver = train(blobs(), num_epochs=2, batch_size=20, print_every=2, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    loss = solver.loss_history
    train_acc, val_acc = solver.train_acc_history, solver.val_acc_history
    expected = [
        f"(Iteration 1 / 6) loss: {loss[0]:f}",
        f"(Epoch 0 / 2) train acc: {train_acc[0]:f}; val_acc: {val_acc[0]:f}",
        f"(Iteration 3 / 6) loss: {loss[2]:f}",
        f"(Epoch 1 / 2) train acc: {train_acc[1]:f}; val_acc: {val_acc[1]:f}",
        f"(Iteration 5 / 6) loss: {loss[4]:f}",
        f"(Epoch 2 / 2) train acc: {train_acc[2]:f}; val_acc: {val_acc[2]:f}",
    ]
    assert lines == expected


def test_verbose_false_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    train(blobs(), num_epochs=1, batch_size=20, verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name", ["hist.npz", "hist"])
def test_record_histories_as_npz_round_trips(name: str, tmp_path: Path) -> None:
    solver = train(blobs(), update_rule=optim.adam, num_epochs=2, batch_size=20)
    solver.record_histories_as_npz(tmp_path / name)
    with np.load(tmp_path / "hist.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["train_accs", "train_losses", "val_accs"]
        for key, history in (
            ("train_losses", solver.loss_history),
            ("train_accs", solver.train_acc_history),
            ("val_accs", solver.val_acc_history),
        ):
            assert npz[key].dtype == np.float64
            np.testing.assert_array_equal(npz[key], history)


def test_checkpoints_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "ck"
    solver = train(blobs(), num_epochs=2, batch_size=20, checkpoint_name=str(prefix), verbose=True)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["ck_epoch_0.pkl", "ck_epoch_1.pkl", "ck_epoch_2.pkl"]
    assert f'Saving checkpoint to "{prefix}_epoch_1.pkl"' in capsys.readouterr().out.splitlines()
    with open(tmp_path / "ck_epoch_1.pkl", "rb") as f:
        checkpoint = pickle.load(f)  # noqa: S301 - written by this test
    assert set(checkpoint) == {
        "model",
        "update_rule",
        "lr_decay",
        "optim_config",
        "batch_size",
        "num_train_samples",
        "num_val_samples",
        "epoch",
        "loss_history",
        "train_acc_history",
        "val_acc_history",
    }
    assert checkpoint["epoch"] == 1 and checkpoint["update_rule"] is optim.sgd
    assert checkpoint["loss_history"] == solver.loss_history[:3]  # 3 iterations per epoch
    assert checkpoint["val_acc_history"] == solver.val_acc_history[:2]


def test_no_checkpoint_without_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    train(blobs(), num_epochs=1, batch_size=20)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# with the reference FullyConnectedNet


def fifty_examples(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "X_train": rng.standard_normal((50, 3, 8, 8)).astype(np.float32),
        "y_train": rng.integers(10, size=50),
        "X_val": rng.standard_normal((20, 3, 8, 8)).astype(np.float32),
        "y_val": rng.integers(10, size=20),
    }


@pytest.mark.parametrize(
    ("rule", "learning_rate", "weight_scale"),
    [
        ("adam", 5e-3, 5e-2),
        ("sgd", 1e-1, 1e-1),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overfits_fifty_examples(
    rule: str, learning_rate: float, weight_scale: float, seed: int
) -> None:
    # 30 epochs of 2 iterations; these settings reached 1.0 by epoch 24 on 200 seeds tried.
    fc_net = pytest.importorskip("reference.fc_net")
    np.random.seed(seed)
    model = fc_net.FullyConnectedNet(
        [100, 100], input_dim=3 * 8 * 8, num_classes=10, weight_scale=weight_scale
    )
    solver = Solver(
        model,
        fifty_examples(seed),
        update_rule=getattr(optim, rule),
        optim_config={"learning_rate": learning_rate},
        num_epochs=30,
        batch_size=25,
        verbose=False,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.loss_history) == 60 and len(solver.train_acc_history) == 31
    assert all(w.dtype == np.float32 for w in model.params.values())


@pytest.mark.parametrize("seed", [0, 3])
def test_overfits_fifty_synthetic_examples(seed: int) -> None:
    """The issue's acceptance: 50 examples of reference.data's synthetic set reach 100 %."""
    fc_net = pytest.importorskip("reference.fc_net")
    data = synthetic_dataset(50, 50, 1, seed=seed, image_shape=(3, 8, 8))
    np.random.seed(0)
    model = fc_net.FullyConnectedNet(
        [100, 100], input_dim=3 * 8 * 8, weight_scale=5e-2, dtype=np.float64
    )
    solver = Solver(
        model,
        {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")},
        update_rule=optim.adam,
        optim_config={"learning_rate": 1e-3},
        num_epochs=20,
        batch_size=25,
        verbose=False,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 21
    assert len(solver.loss_history) == 40


# ---------------------------------------------------------------------------------------------
# given modules stay free of solution code


GIVEN_MODULES = ("solver", "gradient_check", "data")


def test_given_module_list_matches_the_package() -> None:
    import reference

    assert reference.GIVEN_MODULES == GIVEN_MODULES


@pytest.mark.parametrize("module", GIVEN_MODULES)
def test_given_module_imports_no_solution_module(module: str) -> None:
    code = (
        f"import sys, reference.{module}\n"
        f"loaded = [m for m in {SOLUTION_MODULES!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    command = [sys.executable, "-c", code]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


# What each copied module must still do on its own: a real (tiny) use, not just the import.
_SMOKE = {
    "solver": """
import numpy as np
class Linear:
    def __init__(self):
        self.params = {"W": np.zeros((2, 2))}
    def loss(self, X, y=None):
        scores = X @ self.params["W"]
        if y is None:
            return scores
        return float(np.sum(scores ** 2)), {"W": 2 * X.T @ scores}
def step(w, dw, config):
    return w - config["learning_rate"] * dw, config
X = np.eye(2).repeat(5, axis=0); y = np.arange(10) % 2
solver = mod.Solver(Linear(), {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
                    update_rule=step, optim_config={"learning_rate": 0.1}, num_epochs=2,
                    batch_size=5, verbose=False)
solver.train()
assert len(solver.loss_history) == 4 and len(solver.val_acc_history) == 3
solver.record_histories_as_npz(out / "hist.npz")
assert (out / "hist.npz").is_file()
""",
    "gradient_check": """
import numpy as np
x = np.array([[1.0, -2.0], [0.5, 3.0]])
grad = mod.eval_numerical_gradient(lambda v: float(np.sum(v ** 2)), x, verbose=False)
np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)
df = np.ones((2, 2))
np.testing.assert_allclose(mod.eval_numerical_gradient_array(lambda v: 3 * v, x, df), 3 * df)
""",
    "data": """
import numpy as np
root = mod.write_synthetic_cifar10(out / "cifar", images_per_batch=20, num_test=10)
data = mod.get_CIFAR10_data(80, 20, 10, cifar10_dir=root)
assert data["X_train"].shape == (80, 3, 32, 32) and data["X_val"].shape == (20, 3, 32, 32)
assert mod.synthetic_dataset(10, 10, 10, image_shape=(3, 4, 4))["X_test"].shape == (10, 3, 4, 4)
""",
}


@pytest.mark.parametrize("module", GIVEN_MODULES)
def test_given_module_works_outside_the_package(module: str, tmp_path: Path) -> None:
    # The grader copies the given sources alone into the sandbox under another name
    # (grader.runner.GIVEN_SOURCES); they must import and run there without ``reference``.
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    shutil.copyfile(REFERENCE_DIR / f"{module}.py", copy_dir / f"given_{module}.py")
    code = (
        f"import sys; from pathlib import Path; sys.path.insert(0, {str(copy_dir)!r})\n"
        f"import given_{module} as mod\n"
        f"out = Path({str(tmp_path)!r})\n"
        + _SMOKE[module]
        + "loaded = [m for m in sys.modules if m.split('.')[0] == 'reference']\n"
        "assert not loaded, loaded\n"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
