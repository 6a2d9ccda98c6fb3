"""Checks of ``TwoLayerNet`` / ``FullyConnectedNet`` (variants.md §1.2, §10).

* ``model_init``: parameter names, shapes, dtype and initial statistics.
* ``model_loss``: the reference's parameters are injected into the student's net; loss, every
  gradient and the test-mode scores are compared with the reference's on the same inputs.
  With dropout, the student's dropout layer, however the net reaches it, is made to apply known
  masks (the canonical draw), so any mask convention of the student's own layer is accepted.

Points come only from comparisons made here. With dropout the child gets the reference's uniform
draws, not its masks: the injected layer keeps a unit where ``U < keep``, ``keep`` read from the
``p`` the net passes, and drops everything on a call beyond the hidden layers. So the ``p`` the
net passes and the number of its dropout layers decide the loss and gradients compared with the
reference's; nothing the child counts decides a point. The child's record of dropout calls only
picks the report: a net that never reached the injected layer (its dropout inlined) is judged by
``grader.checks.no_injection``, whose points also come only from comparisons made here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.context import Context, generator_kept
from grader.checks.nets import build, canonical_kwargs, close, reference_kwargs, scores
from grader.checks.no_injection import judge_without_injection
from grader.errors import BadReturn


def init(ctx: Context) -> None:
    """Parameter names, shapes, dtype, and initial statistics (weights ~ N(0, ws²), biases 0)."""
    kw = canonical_kwargs(ctx)
    np.random.seed(ctx.check.seed)
    ref = ctx.oracle.model(ctx.check.subject, **kw)
    model = build(ctx, kw)
    params = ctx.request("getattr", obj={"handle": model.id, "attr": "params"})
    if not ctx.require(
        "params",
        isinstance(params, dict),
        f"model.params is a {type(params).__name__} (must be a dict)",
    ):
        return
    missing, extra = sorted(set(ref.params) - set(params)), sorted(set(params) - set(ref.params))
    ctx.require(
        "parameter names",
        not missing and not extra,
        f"parameter names: missing {missing or 'none'}, unexpected {extra or 'none'}",
    )
    ws = kw["weight_scale"]
    for name in sorted(set(ref.params) & set(params)):
        value, expected = params[name], ref.params[name]
        if not ctx.require(
            f"{name} shape",
            getattr(value, "shape", None) == expected.shape,
            f"{name} has shape {getattr(value, 'shape', None)}, expected {expected.shape}",
        ):
            continue
        if "dtype" in kw:
            ctx.require(
                f"{name} dtype",
                value.dtype == expected.dtype,
                f"{name} has dtype {value.dtype}, expected {expected.dtype}",
            )
        if name.startswith("W"):
            std = float(np.std(value))
            ctx.require(
                f"{name} std",
                abs(std - ws) < ws / 10,
                f"std({name}) = {std:.4g}; expected about weight_scale = {ws:g} (within 10%)",
            )
        else:
            fill = 1.0 if name.startswith("gamma") else 0.0
            ctx.require(
                f"{name} init", bool(np.all(value == fill)), f"{name} should start as all {fill:g}"
            )


def loss(ctx: Context) -> None:
    """Loss, gradients and scores with the reference's parameters injected."""
    kw = canonical_kwargs(ctx)
    if "dtype" in kw:
        kw["dtype"] = np.float64  # losses and gradients are compared in float64
    # Replays the notebooks' cells: np.random.seed(seed); X = randn(N, D); y = randint(C, N); then
    # the model draws its weights from the same stream (variants.md §2.4, seed-231 cells).
    np.random.seed(ctx.check.seed)
    n = int(ctx.param("num_inputs", 2))
    X = np.random.randn(n, kw["input_dim"])
    y = np.random.randint(kw["num_classes"], size=n)
    if "labels" in ctx.check.params:  # a notebook's fixed labels (TwoLayerNet cell: y = [0, 5, 1])
        y = np.asarray(ctx.check.params["labels"], dtype=np.int64)
    ref = ctx.oracle.model(ctx.check.subject, **reference_kwargs(ctx, kw))
    if ctx.param("linspace", False):
        _linspace_params(ref.params)
        X = np.linspace(-5.5, 4.5, num=n * kw["input_dim"]).reshape(kw["input_dim"], n).T
    elif ctx.param("perturb", kw["reg"] != 0):
        # Non-trivial biases, gammas and betas, so that regularizing them is visible.
        for name, value in ref.params.items():
            if not name.startswith("W"):
                base = 1.0 if name.startswith("gamma") else 0.0
                ref.params[name] = base + 0.1 * ctx.rng.randn(*value.shape)
    model = build(ctx, kw)
    for name, value in ref.params.items():
        ctx.request(
            "setitem", obj={"handle": model.id, "attr": "params"}, key=name, value=value.copy()
        )
    uniforms = _dropout_uniforms(kw, n)
    if uniforms:
        ctx.request(
            "dropout",
            uniforms=uniforms,
            meaning=ctx.api.dropout_p,
            surplus="zeros",
            forward=ctx.api.name("dropout_forward"),
            backward=ctx.api.name("dropout_backward"),
        )
    method = {"handle": model.id, "attr": "loss"}
    result = ctx.returns(ctx.call(method, X.copy(), y.copy()), ("loss", "grads"), "loss(X, y)")
    student_loss, grads = result
    if uniforms and _never_reached(ctx):
        judge_without_injection(ctx, X, y, student_loss, grads, ref, kw)
        return
    ref_loss, ref_grads = ref.loss(X.copy(), y.copy())
    flipped = _flipped_keep_loss(ctx, kw, X, y, ref) if uniforms else None
    if not ctx.compare("loss", student_loss, ref_loss) and uniforms:
        _name_dropout_mistake(ctx, kw, ref, student_loss, flipped)
    if not ctx.require(
        "grads", isinstance(grads, dict), f"grads is a {type(grads).__name__} (must be a dict)"
    ):
        return
    student = {"loss": student_loss}
    for name in sorted(ref_grads):
        student[f"grads['{name}']"] = grads.get(name)
        ctx.compare(f"grads['{name}']", grads.get(name), ref_grads[name])
    candidates = ctx.oracle.mistakes(
        "net_regularization", ref.params, kw["reg"], ref_loss, ref_grads
    )
    if kw.get("normalization") == "batchnorm" and not uniforms:
        candidates += ctx.oracle.mistakes(
            "net_batchnorm_order", ref.params, X, y, len(kw["hidden_dims"]) + 1
        )
    ctx.diagnose(student, candidates)
    if ctx.param("scores", True):
        scores(ctx, method, X, ref, kw)


def _linspace_params(params: dict[str, np.ndarray]) -> None:
    """The notebooks' deterministic parameter fixture (variants.md §6.4 item 5, §10.1)."""
    ranges = {
        "W1": (-0.7, 0.3),
        "b1": (-0.1, 0.9),
        "W2": (-0.3, 0.4),
        "b2": (-0.9, 0.1),
        "W3": (-0.3, 0.4),
        "b3": (-0.9, 0.1),
    }
    for name, (lo, hi) in ranges.items():
        if name in params:
            params[name] = np.linspace(lo, hi, num=params[name].size).reshape(params[name].shape)


def _dropout_uniforms(kw: dict[str, Any], n: int) -> list[np.ndarray]:
    """The uniforms the reference's seeded dropout draws in each hidden layer (it reseeds at every
    call and keeps a unit where ``U < keep``)."""
    keep = kw.get("dropout_keep_ratio", 1.0)
    if keep == 1:
        return []
    return [np.random.RandomState(kw["seed"]).rand(n, h) for h in kw["hidden_dims"]]


def _never_reached(ctx: Context) -> bool:
    """Whether the injected dropout never ran (the child's record: it picks the report only)."""
    record = ctx.request("dropout_calls")
    if not (isinstance(record, dict) and isinstance(record.get("calls"), int)):
        raise BadReturn("the dropout record came back malformed")
    return bool(record["calls"] == 0)


def _flipped_keep_loss(
    ctx: Context, kw: dict[str, Any], X: np.ndarray, y: np.ndarray, ref: Any
) -> np.ndarray | None:
    """The reference's loss (a 0-d array) with the keep probability flipped (None when that is
    the same net), asked whether or not the student's loss is wrong (``generator_kept``)."""
    keep = float(kw["dropout_keep_ratio"])
    if keep == 0.5:
        return None
    with generator_kept():
        # The injected layer keeps U < 1 - keep when the net passes the other probability.
        twin = ctx.oracle.model(
            "FullyConnectedNet", **{**reference_kwargs(ctx, kw), "dropout_keep_ratio": 1 - keep}
        )
        twin.params = {k: v.copy() for k, v in ref.params.items()}
        return np.asarray(twin.loss(X.copy(), y.copy())[0], dtype=np.float64)


def _name_dropout_mistake(
    ctx: Context, kw: dict[str, Any], ref: Any, student_loss: Any, flipped: np.ndarray | None
) -> None:
    """Name the dropout mistake whose loss the reference predicts for the injected uniforms
    (``flipped``: the loss with keep and drop probability flipped)."""
    if flipped is not None and close(ctx, student_loss, flipped):
        ctx.diagnosis = "keep and drop probability flipped where the net builds dropout_param"
        return
    # A dropout call beyond the hidden layers drops everything: on the scores, they are all 0.
    # The regularization term is the reference's (0.5 * reg * sum of squared weights).
    weights = sum(float(np.sum(v * v)) for k, v in ref.params.items() if k.startswith("W"))
    zero_scores = np.log(kw["num_classes"]) + 0.5 * kw["reg"] * weights
    if close(ctx, student_loss, np.float64(zero_scores)):
        ctx.diagnosis = (
            "dropout is also applied after the last affine layer (only hidden layers use it)"
        )


INIT = {"TwoLayerNet": init, "FullyConnectedNet": init}
LOSS = {"TwoLayerNet": loss, "FullyConnectedNet": loss}
