"""Training check: the student's net and update rule, trained by a loop in the grading process.

The grading process holds the synthetic data set, the parameters (initialised as the reference
does, from the check's seed) and the optimizer state, and picks the minibatches
(``grader.checks.host_training``). The student's process only answers questions about the
student's functions on inputs chosen here: ``loss(X_batch, y_batch)`` at the parameters held
here, and the update rule on each parameter, unless the course gives the rule
(``api.not_student_work``), which is then applied here through the oracle. The validation data
never enters the student's process; the accuracy that decides the points is computed here, with
the reference forward pass on the parameters held here. A student kit (an oracle that is not
``live``) has no reference forward pass: there the student's own test-mode scores on the
validation images are asked for, and compared with the labels here. The loss history is the
student's answers: it can fail the check (not finite, not decreasing) but never earns the points
alone.
"""

from __future__ import annotations

import numpy as np

from grader.checks.context import Context
from grader.checks.host_training import RESULT, TRAINED, Setup, train_on_host
from grader.checks.nets import course_kwargs
from grader.child.protocol import Handle
from grader.errors import BadReturn
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
    # The initial parameters are drawn here, as a student's net seeded the same way draws them.
    np.random.seed(ctx.check.seed)
    reference = ctx.oracle.model(
        "FullyConnectedNet", **{k: v for k, v in kw.items() if k != "seed"}
    )
    args, ckw = course_kwargs(ctx.api, "FullyConnectedNet", kw)
    model = ctx.request(
        "construct", (args, ckw), fn=ctx.target("FullyConnectedNet"), seed=ctx.check.seed
    )
    if not isinstance(model, Handle):
        raise BadReturn("the student's process answered a construct with something malformed")
    rule = str(ctx.param("update_rule", "adam"))
    # A kit has no trusted rule to apply here: the course's given rule is in the student's own
    # optim module (the starter's), so the student's process applies it.
    given = rule in ctx.api.not_student_work and ctx.oracle.live
    setup = Setup(
        rule=rule,
        rule_target={} if given else ctx.target(rule),
        given=given,
        learning_rate=float(ctx.param("learning_rate", 1e-3)),
        num_epochs=int(ctx.param("num_epochs", 5)),
        batch_size=int(ctx.param("batch_size", 50)),
        lr_decay=float(ctx.param("lr_decay", 1.0)),
    )
    # The architecture's parameters, with their shapes: what a failure is measured against.
    architecture = ", ".join(f"{k} {reference.params[k].shape}" for k in sorted(reference.params))
    trained = train_on_host(ctx, model, reference, data, setup)
    # Measured here (the host's forward pass on the parameters it holds): plotted in the report.
    ctx.curves = {"loss": tuple(trained.losses), "val_acc": tuple(trained.accuracies)}
    failed, problem = trained.failure or ("", "")
    # A passing comparison's message is shown too: each says what was found, never a failure.
    if not ctx.require(
        "training result", failed != RESULT, problem or "training returned nothing usable"
    ):
        return
    if not ctx.require(
        "trained parameters",
        failed != TRAINED,
        problem
        or f"the trained parameters have the architecture's names and shapes: {architecture}",
    ):
        return
    losses = np.asarray(trained.losses, dtype=np.float64)
    finite = not failed and losses.size > 0
    ctx.require(
        "loss finite",
        finite,
        problem
        or ("the training loss became NaN or infinite" if losses.size else "no loss recorded"),
    )
    if finite:
        start, end = (
            float(losses[: max(1, losses.size // 10)].mean()),
            float(losses[-max(1, losses.size // 10) :].mean()),
        )
        ctx.require("loss decreases", end < start, f"mean loss went from {start:.4f} to {end:.4f}")
    target = float(ctx.param("min_accuracy", 0.3))
    ctx.require(
        "validation accuracy",
        trained.accuracy >= target,
        f"validation accuracy {trained.accuracy:.3f} after training with {rule} "
        f"(needs >= {target:.2f})",
    )


TRAIN = {"FullyConnectedNet": train}
