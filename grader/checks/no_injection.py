"""Judging a dropout net whose masks could not be injected (it does not call a module attribute
named ``dropout_forward``): test-mode scores, the dropout visible in training, mask statistics of
the last hidden layer read from the gradients, and gradient self-consistency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.context import Context
from grader.checks.nets import build, close, reference_kwargs, scores
from grader.errors import StudentRaised

__all__ = ["judge_without_injection"]


def judge_without_injection(
    ctx: Context,
    model: Any,
    method: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    student_loss: Any,
    grads: Any,
    ref: Any,
    kw: dict[str, Any],
) -> None:
    """Fallback when the net does not call a ``dropout_forward`` we can replace.

    Its masks are its own, so the loss cannot be compared. What is checked instead, all against
    facts the grading process computes itself: test-mode scores (no dropout) equal the
    reference's; the training loss differs from the loss without dropout; a probe reads the last
    hidden layer's dropped-out activations from the gradients and checks their values and rate;
    and the gradients agree with centred differences of the net's own (seeded) loss.
    """
    ctx.notes.append(
        "the net does not call a function named dropout_forward, so its masks could not be "
        "injected; judged by test-mode scores, the dropout visible in training, mask statistics "
        "of the last hidden layer and gradient self-consistency instead"
    )
    if not ctx.require(
        "grads", isinstance(grads, dict), f"grads is {type(grads).__name__}, not a dict"
    ):
        return
    # A fresh net for the scores: the training call above moved its batchnorm running statistics
    # with its own masks, which the reference cannot replay.
    fresh = build(ctx, kw)
    for name, value in ref.params.items():
        ctx.request(
            "setitem", obj={"handle": fresh.id, "attr": "params"}, key=name, value=value.copy()
        )
    scores(ctx, {"handle": fresh.id, "attr": "loss"}, X, ref, kw)
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
    for name in sorted(grads):
        numeric = ctx.request(
            "numgrad",
            ([X, y], {}),
            fn=method,
            output=0,
            wrt={"obj": {"handle": model.id, "attr": "params"}, "key": name},
        )
        ctx.compare(f"grads['{name}'] vs numeric", grads[name], numeric)
    _mask_probe(ctx, model, method, ref, kw)


PROBE_LEVEL = 1.0
"""Activation every unit of the last hidden layer has before dropout, in the probe."""


def _mask_probe(
    ctx: Context,
    model: Any,
    method: dict[str, Any],
    ref: Any,
    kw: dict[str, Any],
    repeats: int = 30,
) -> None:
    """Read the last hidden layer's dropped-out activations ``h`` (shape (K,)) from ``dW_L``.

    The probe zeroes ``W_{L-1}`` and sets its bias (or, with normalization, its beta) to
    ``PROBE_LEVEL``, so every unit is ``PROBE_LEVEL`` before dropout whatever happened below; it
    zeroes ``W_L``, so the scores are ``b_L`` and ``dscores = softmax(b_L) - onehot(y)`` is known
    here. For one example ``dW_L = outer(h, dscores)``, which gives ``h``: each entry must be 0 or
    ``PROBE_LEVEL / keep``, and the zero fraction within a binomial bound of ``1 - keep``.
    """
    last = len(kw["hidden_dims"]) + 1
    keep = float(kw["dropout_keep_ratio"])
    params = {k: v.copy() for k, v in ref.params.items()}
    b_last = np.linspace(-0.5, 0.5, params[f"b{last}"].size)
    params[f"W{last}"], params[f"b{last}"] = np.zeros_like(params[f"W{last}"]), b_last
    params[f"W{last - 1}"] = np.zeros_like(params[f"W{last - 1}"])
    params[f"b{last - 1}"] = np.full_like(params[f"b{last - 1}"], PROBE_LEVEL)
    if f"beta{last - 1}" in params:
        params[f"gamma{last - 1}"] = np.ones_like(params[f"gamma{last - 1}"])
        params[f"beta{last - 1}"] = np.full_like(params[f"beta{last - 1}"], PROBE_LEVEL)
    for name, value in params.items():
        ctx.request("setitem", obj={"handle": model.id, "attr": "params"}, key=name, value=value)
    x, y = ctx.rng.randn(1, kw["input_dim"]), np.zeros(1, dtype=np.int64)
    dscores = np.exp(b_last - b_last.max()) / np.exp(b_last - b_last.max()).sum()
    dscores[0] -= 1.0
    rows = []
    for r in range(repeats):
        _set_dropout_seed(ctx, model, 1000 + r)
        _, grads = ctx.returns(
            ctx.call(method, x.copy(), y.copy()), ("loss", "grads"), "loss(X, y)"
        )
        dw = grads.get(f"W{last}") if isinstance(grads, dict) else None
        if not isinstance(dw, np.ndarray) or not ctx.require(
            f"probe grads['W{last}']",
            dw.shape == params[f"W{last}"].shape and bool(np.all(np.isfinite(dw))),
            f"grads['W{last}'] is not a finite array of shape {params[f'W{last}'].shape} in the "
            "dropout probe",
        ):
            if not isinstance(dw, np.ndarray):
                ctx.require(
                    f"probe grads['W{last}']",
                    False,
                    f"grads['W{last}'] is not a finite array of shape "
                    f"{params[f'W{last}'].shape} in the dropout probe",
                )
            return
        h = dw.astype(np.float64) @ dscores / (dscores @ dscores)
        if not ctx.require(
            "probe rank",
            np.allclose(dw, np.outer(h, dscores), rtol=1e-6, atol=1e-9),
            f"grads['W{last}'] for one example is not outer(h, dscores): the backward pass of "
            "the last layer is wrong, so the dropout masks cannot be read",
        ):
            return
        rows.append(h)
    _judge_masks(ctx, np.array(rows), keep)


def _set_dropout_seed(ctx: Context, model: Any, seed: int) -> None:
    """Vary the net's dropout seed between probe calls (a net without ``dropout_param`` draws
    freely)."""
    try:
        ctx.request(
            "setitem", obj={"handle": model.id, "attr": "dropout_param"}, key="seed", value=seed
        )
    except StudentRaised:
        pass


def _judge_masks(ctx: Context, h: np.ndarray, keep: float) -> None:
    """``h``: shape (repeats, K), the probe's dropped-out activations; judge values and rate."""
    level = PROBE_LEVEL / keep
    tol = 1e-6 * level
    zero = np.abs(h) <= tol
    kept = np.abs(h - level) <= tol
    distinct = np.unique(zero, axis=0)  # a net that reseeds with a fixed seed repeats its mask
    n = distinct.size
    rate = float(distinct.mean())
    bound = 4.0 * np.sqrt(keep * (1 - keep) / n) + 1.0 / n
    values_ok = ctx.require(
        "probe mask values",
        bool(np.all(zero | kept)),
        f"the last hidden layer's activations after dropout should be 0 or {level:g} "
        f"(= {PROBE_LEVEL:g} / keep); found values such as {_odd_value(h, zero | kept):g}",
    )
    rate_ok = ctx.require(
        "probe zero fraction",
        abs(rate - (1 - keep)) <= bound,
        f"{rate:.3f} of the last hidden layer's units were dropped; expected "
        f"{1 - keep:.3f} ± {bound:.3f} (keep probability {keep:g})",
    )
    if (values_ok and rate_ok) or ctx.diagnosis:
        return
    nonzero = h[~zero]
    if np.all(np.abs(h - PROBE_LEVEL) <= tol):
        ctx.diagnosis = "the net never applies dropout after the last hidden layer in training"
    elif nonzero.size and np.allclose(nonzero, PROBE_LEVEL) and abs(rate - (1 - keep)) <= bound:
        ctx.diagnosis = (
            "the net's dropout keeps units but does not scale them by 1/keep (inverted dropout)"
        )
    elif (
        nonzero.size
        and np.allclose(nonzero, PROBE_LEVEL / (1 - keep))
        and abs(rate - keep) <= bound
    ):
        ctx.diagnosis = "keep and drop probability flipped in the net's dropout"


def _odd_value(h: np.ndarray, ok: np.ndarray) -> float:
    return float(h[~ok][0]) if np.any(~ok) else float("nan")
