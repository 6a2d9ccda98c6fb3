"""Training check: the student's net and update rule, trained by the grader's trusted Solver.

The child trains on a small synthetic set and returns the loss history and the trained
parameters; the grading process then computes the validation accuracy itself, with the
reference net carrying those parameters, so nothing the child reports about accuracy is trusted.
"""

from __future__ import annotations

import numpy as np

from grader.checks.context import Context
from grader.checks.nets import course_kwargs
from reference.data import synthetic_dataset


def train(ctx: Context) -> None:
    """Train FullyConnectedNet with the course's update rule; judge accuracy in this process."""
    side = int(ctx.param("image_size", 8))
    data = synthetic_dataset(
        int(ctx.param("num_train", 500)),
        int(ctx.param("num_val", 200)),
        1,
        seed=ctx.check.seed,
        image_shape=(3, side, side),
    )
    data = {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")}
    kw = {
        "hidden_dims": list(ctx.param("hidden_dims", [50])),
        "input_dim": 3 * side * side,
        "num_classes": 10,
        "weight_scale": float(ctx.param("weight_scale", 1e-2)),
        "reg": float(ctx.param("reg", 0.0)),
        "dtype": np.float64,
        "normalization": None,
        "dropout_keep_ratio": 1.0,
        "seed": None,
    }
    args, ckw = course_kwargs(ctx.api, "FullyConnectedNet", kw)
    model = ctx.request(
        "construct", (args, ckw), fn=ctx.target("FullyConnectedNet"), seed=ctx.check.seed
    )
    rule = str(ctx.param("update_rule", "adam"))
    options = {
        "optim_config": {"learning_rate": float(ctx.param("learning_rate", 1e-3))},
        "num_epochs": int(ctx.param("num_epochs", 5)),
        "batch_size": int(ctx.param("batch_size", 50)),
        "lr_decay": float(ctx.param("lr_decay", 1.0)),
    }
    result = ctx.request(
        "train",
        model={"handle": model.id},
        data=data,
        update_rule=ctx.target(rule),
        options=options,
        seed=ctx.check.seed,
    )
    if not ctx.require(
        "training result", isinstance(result, dict), "training returned nothing usable"
    ):
        return
    losses = np.asarray(result.get("loss_history", []), dtype=np.float64)
    params = result.get("params") or {}
    reference = ctx.oracle.model(
        "FullyConnectedNet", **{k: v for k, v in kw.items() if k != "seed"}
    )
    shapes_ok = set(params) == set(reference.params) and all(
        getattr(params[k], "shape", None) == v.shape for k, v in reference.params.items()
    )
    if not ctx.require(
        "trained parameters",
        shapes_ok,
        f"trained params {sorted(params)} do not match the architecture {sorted(reference.params)}",
    ):
        return
    finite = losses.size > 0 and bool(np.isfinite(losses).all())
    ctx.require(
        "loss finite",
        finite,
        "the training loss became NaN or infinite" if losses.size else "no loss recorded",
    )
    if finite:
        start, end = (
            float(losses[: max(1, losses.size // 10)].mean()),
            float(losses[-max(1, losses.size // 10) :].mean()),
        )
        ctx.require("loss decreases", end < start, f"mean loss went from {start:.4f} to {end:.4f}")
    reference.params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    with np.errstate(all="ignore"):
        scores = reference.loss(data["X_val"])
    accuracy = float(np.mean(np.argmax(scores, axis=1) == data["y_val"]))
    target = float(ctx.param("min_accuracy", 0.3))
    ctx.require(
        "validation accuracy",
        accuracy >= target,
        f"validation accuracy {accuracy:.3f} after training with {rule} (needs >= {target:.2f})",
    )


TRAIN = {"FullyConnectedNet": train}
