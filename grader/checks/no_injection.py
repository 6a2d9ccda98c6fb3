"""Judging a dropout net that never reached the injected dropout (its dropout is inlined, or in a
function that is not the student's ``dropout_forward``): its masks are its own, so its training
loss cannot be predicted.

Points still come only from comparisons made in the grading process; every one must pass:

* ``grads keys``: the gradients are exactly the parameters (none left out, none added);
* ``scores = loss(X)``: the test-mode scores (no dropout) equal the reference's;
* ``dead units``: in train mode with every hidden unit below zero before its ReLU, no mask can
  matter, so the loss and every gradient must equal the reference's: the loss function, the
  regularization of every parameter, and the last layer;
* ``dropout in training``: the training loss differs from the loss without dropout;
* ``vs numeric``: each gradient agrees with centred differences taken here of the net's loss,
  along random directions chosen here, the perturbed parameters set by this process (ReLU kinks
  aside: a direction whose step crosses one can disagree, so a parameter passes when two of at
  most four directions agree; biases and betas are moved off 0 first so that no unit sits on a
  kink. A correct net fails only if three of four random directions cross a kink within the
  step, which at the checks' sizes we estimate below 1e-10 per check);
* the mask probe (``grader.checks.mask_probe``): the last hidden layer's units after dropout,
  read from the gradients, are 0 or level / keep at a plausible rate, and the loss and the last
  layers' gradients are those the reference computes from them.

The net's losses and gradients are claims; what they must agree with is computed here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grader.checks.context import Context, describe
from grader.checks.mask_probe import probe
from grader.checks.nets import close, net_with, reference_kwargs, scores
from grader.compare import compare
from grader.errors import BadReturn
from grader.numeric import real_number

__all__ = ["judge_without_injection"]

NOTE = (
    "the net never called your dropout_forward (under any name), so its masks could not be "
    "injected; judged by test-mode scores, a train-mode pass in which no mask matters, gradients "
    "against numeric differences taken by the grader, and the masks of the last hidden layer "
    "read from the gradients"
)
STEP = 1e-6
"""Step of the centred differences (float64 nets): rounding costs about 1e-9 of a derivative."""
AGREE, TRIES = 2, 4
"""A parameter's gradient passes when ``AGREE`` of at most ``TRIES`` random unit directions give
a directional derivative equal to the centred difference."""
SEED = 4242
"""Global seed set before every loss call of the numeric check, so every call draws the same
masks (a net passing its own ``seed`` reseeds anyway)."""
RTOL, ATOL = 1e-5, 1e-7
"""Tolerance of a directional derivative against its centred difference."""


def judge_without_injection(
    ctx: Context,
    X: np.ndarray,
    y: np.ndarray,
    student_loss: Any,
    grads: Any,
    ref: Any,
    kw: dict[str, Any],
) -> None:
    """Judge a dropout net without injected masks (see the module docstring); ``X``: (N, D)."""
    ctx.notes.append(NOTE)
    if not ctx.require(
        "grads", isinstance(grads, dict), f"grads is a {type(grads).__name__} (must be a dict)"
    ):
        return
    missing = sorted(set(ref.params) - set(grads))
    extra = len(set(grads) - set(ref.params))
    ctx.require(
        "grads keys",
        not missing and not extra,
        f"grads must have one entry per parameter: missing {', '.join(missing) or 'none'}, "
        f"{extra} entries that are no parameter",
    )
    # A fresh net for the scores: the training call moved its batchnorm running statistics with
    # its own masks, which the reference cannot replay.
    _, fresh = net_with(ctx, kw, ref.params)
    scores(ctx, fresh, X, ref, kw)
    _dead_units(ctx, kw, ref, X, y)
    plain = ctx.oracle.model(
        "FullyConnectedNet", **{**reference_kwargs(ctx, kw), "dropout_keep_ratio": 1, "seed": None}
    )
    plain.params = {k: v.copy() for k, v in ref.params.items()}
    plain_loss, _ = plain.loss(X.copy(), y.copy())
    if not ctx.require(
        "dropout in training",
        not close(ctx, student_loss, np.float64(plain_loss)),
        f"the training loss {student_loss!r} equals the loss without dropout ({plain_loss!r}): "
        "the net applies no dropout",
    ):
        ctx.diagnosis = (
            "the net never applies dropout (use_dropout / dropout_param not wired into loss)"
        )
    _numeric(ctx, kw, ref, X, y)
    probe(ctx, kw, ref)


def _dead_units(ctx: Context, kw: dict[str, Any], ref: Any, X: np.ndarray, y: np.ndarray) -> None:
    """Train mode with every hidden unit negative before its ReLU: loss and gradients must be the
    reference's, whatever masks the net draws (dropout of zeros is zero)."""
    params = {k: v.copy() for k, v in ref.params.items()}
    n = X.shape[0]
    inputs = X.reshape(n, -1)
    for layer, width in enumerate(kw["hidden_dims"], start=1):
        if kw.get("normalization"):
            # Normalized units are gamma * xhat + beta with |xhat| <= sqrt(count - 1).
            reach = np.abs(params[f"gamma{layer}"]) * math.sqrt(max(n, width))
            params[f"beta{layer}"] = -(reach + 1.0)
        else:
            params[f"b{layer}"] = -(np.abs(inputs @ params[f"W{layer}"]).max(axis=0) + 1.0)
        inputs = np.zeros((n, width))  # what the next layer sees
    _, method = net_with(ctx, kw, params)
    loss, grads = ctx.returns(ctx.call(method, X.copy(), y.copy()), ("loss", "grads"), "loss(X, y)")
    twin = ctx.oracle.model("FullyConnectedNet", **reference_kwargs(ctx, kw))
    twin.params = {k: v.copy() for k, v in params.items()}
    ref_loss, ref_grads = twin.loss(X.copy(), y.copy())
    ctx.compare("dead units: loss", loss, ref_loss)
    for name in sorted(ref_grads):
        mine = grads.get(name) if isinstance(grads, dict) else None
        ctx.compare(f"dead units: grads['{name}']", mine, ref_grads[name])


def _numeric(ctx: Context, kw: dict[str, Any], ref: Any, X: np.ndarray, y: np.ndarray) -> None:
    """Directional derivatives of the net's gradients against centred differences of its loss,
    the directions and the perturbed parameters chosen here."""
    params = {
        k: v.copy() if k.startswith("W") else v + 0.1 * ctx.rng.randn(*v.shape)
        for k, v in ref.params.items()
    }
    model, method = net_with(ctx, kw, params)
    target = {"handle": model.id, "attr": "params"}
    _, grads = ctx.returns(
        ctx.call(method, X.copy(), y.copy(), seed=SEED), ("loss", "grads"), "loss(X, y)"
    )
    for name in sorted(params):
        theta = params[name]
        label = f"grads['{name}'] vs numeric"
        g = grads.get(name) if isinstance(grads, dict) else None
        if not (isinstance(g, np.ndarray) and g.shape == theta.shape and g.dtype.kind in "iuf"):
            ctx.require(label, False, f"grads['{name}'] is not an array of shape {theta.shape}")
            continue
        tried: list[tuple[float, float]] = []
        agreed: list[tuple[float, float]] = []
        while len(agreed) < AGREE and len(agreed) + TRIES - len(tried) >= AGREE:
            v = ctx.rng.randn(*theta.shape)
            v /= np.linalg.norm(v)
            ends = [
                _loss_at(ctx, method, target, name, theta + sign * STEP * v, X, y)
                for sign in (1.0, -1.0)
            ]
            pair = (float(np.sum(g.astype(np.float64) * v)), (ends[0] - ends[1]) / (2 * STEP))
            tried.append(pair)
            if compare("", pair[0], pair[1], rtol=RTOL, atol=ATOL).passed:
                agreed.append(pair)
        ctx.request("setitem", obj=target, key=name, value=theta.copy())
        shown = agreed if len(agreed) >= AGREE else tried
        analytic, numeric = (np.array(column) for column in zip(*shown, strict=True))
        if not np.all(np.isfinite(numeric)):
            ctx.require(label, False, f"the loss is not finite with {name} moved by {STEP:g}")
            continue
        ctx.comparisons.append(compare(label, analytic, numeric, rtol=RTOL, atol=ATOL))


def _loss_at(
    ctx: Context,
    method: dict[str, Any],
    target: dict[str, Any],
    name: str,
    value: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
) -> float:
    """The net's loss with parameter ``name`` set to ``value`` (same global seed every call)."""
    ctx.request("setitem", obj=target, key=name, value=value)
    loss, _ = ctx.returns(
        ctx.call(method, X.copy(), y.copy(), seed=SEED), ("loss", "grads"), "loss(X, y)"
    )
    number = real_number(loss)  # a huge int is inf here, not an OverflowError
    if number is not None:
        return number
    raise BadReturn(f"loss(X, y) returned {describe(loss)} as the loss; expected a number")
