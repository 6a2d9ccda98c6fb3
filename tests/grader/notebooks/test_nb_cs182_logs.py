"""CS182's submission_logs/: histories that agree with results.json and the notebook's settings,
and every way they can disagree (variants.md §6.2-§6.4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grader.notebooks.cs182_logs import read_logs
from grader.spec.registry import get_spec

LOGS = get_spec("cs182-sp25").notebooks.logs


def history(path: Path, epochs: int, iterations: int, best: float = 0.314) -> None:
    """What the CS182 Solver's record_histories_as_npz writes: accuracies at iteration 0 and at
    each epoch's end, one loss per iteration (seed 003's dropout-0 run ends at 0.314)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    val = np.linspace(0.1, best, epochs + 1)
    np.savez(
        path,
        train_losses=np.linspace(9.289189, 0.5, iterations),
        train_accs=np.linspace(0.2, 0.962, epochs + 1),
        val_accs=val,
    )


def agreeing(root: Path) -> Path:
    logs = root / "hw04" / "submission_logs"
    history(logs / "dropout_regularization_experiment_p0.npz", 15, 75)
    history(logs / "dropout_regularization_experiment_p0.5.npz", 15, 75)
    history(logs / "compare_bn_deep_networks_with_bn.npz", 10, 200, best=0.337)
    (logs / "results.json").write_text(json.dumps({"val_acc": 0.337, "test_acc": 0.33}))
    return logs


def test_logs_that_agree_have_no_problems(tmp_path: Path) -> None:
    assert LOGS is not None
    agreeing(tmp_path)
    logs = read_logs(tmp_path, LOGS)
    assert logs.problems == ()
    assert logs.folder == "hw04/submission_logs"
    assert logs.self_reported == {"test_acc": 0.33, "val_acc": 0.337}
    assert logs.histories["dropout_regularization_experiment_p0.npz"] == {
        "train_losses": 75,
        "train_accs": 16,
        "val_accs": 16,
        "best_val_acc": 0.314,
        "last_val_acc": 0.314,
    }


def test_logs_that_disagree_say_what_does_not_hold(tmp_path: Path) -> None:
    assert LOGS is not None
    logs_dir = agreeing(tmp_path)
    history(logs_dir / "dropout_regularization_experiment_p0.npz", 25, 125)  # not the settings
    (logs_dir / "results.json").write_text(json.dumps({"val_acc": 0.61, "test_acc": 0.6}))
    np.savez(logs_dir / "broken.npz", train_losses=np.ones(3), val_accs=np.ones(2))
    (logs_dir / "pickled.npz").write_bytes(b"\x80\x04K\x01.")
    logs = read_logs(tmp_path, LOGS)
    assert logs.problems == (
        "broken.npz has no train_accs",
        "dropout_regularization_experiment_p0.npz: 26 validation accuracies and 125 losses, but "
        "the notebook's settings give 16 and 75",
        "pickled.npz is not an array file np.savez writes (result payload is not an .npz array "
        "archive)",
        "results.json reports val_acc 0.61, which no history in hw04/submission_logs/ recorded",
    )
    assert logs.self_reported == {"test_acc": 0.6, "val_acc": 0.61}  # shown, never scored


def test_no_logs_folder_is_reported(tmp_path: Path) -> None:
    assert LOGS is not None
    logs = read_logs(tmp_path, LOGS)
    assert logs.problems == ("no submission_logs/ folder: the notebook saves its histories there",)
