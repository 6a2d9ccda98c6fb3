"""The dropout probe of a net whose masks could not be injected (``grader.checks.no_injection``):
the last hidden layer's units after dropout, read from the gradients, and what the reference
computes from them.

The probe sets ``W_{L-1} = 0`` and that layer's bias (or, with normalization, its beta) to
``PROBE_LEVEL``, so every unit of the last hidden layer is ``PROBE_LEVEL`` before dropout whatever
happened below; ``W_L`` is random and the input is one example. Then ``dW_L = outer(h, dscores)``
and ``db_L = dscores``, which give ``h``, the units after dropout. From ``h`` alone the reference
computes the loss, ``db_L``, ``dW_L`` and the gradient of the last hidden bias (or beta), and the
net's must agree; each ``h`` must be 0 or ``PROBE_LEVEL / keep``, and the fraction of zeros over
30 seeds must lie in a Chernoff bound of ``1 - keep`` that a correct net violates with
probability at most ``mask_stats.ALPHA`` (5e-11).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.checks.context import Context
from grader.checks.mask_stats import rate_interval
from grader.checks.nets import net_with
from grader.errors import StudentRaised
from grader.numeric import real_number

__all__ = ["PROBE_LEVEL", "probe"]

PROBE_LEVEL = 1.0
"""Activation every unit of the last hidden layer has before dropout, in the probe."""
REPEATS = 30
SEED0 = 1000
"""The probe's r-th call sets the net's dropout seed (and the global one) to ``SEED0 + r``."""
KIT_NOTE = (
    "the loss and gradients this net computes from its dropout units are checked by your "
    "instructor; the masks themselves were checked here"
)


def probe(ctx: Context, kw: dict[str, Any], ref: Any) -> None:
    """Read the last hidden layer's units after dropout, ``h`` (shape (K,)), from the gradients
    of ``REPEATS`` calls on one example; judge them and what the net computed from them."""
    last = len(kw["hidden_dims"]) + 1
    hidden = last - 1
    params = {k: v.copy() for k, v in ref.params.items()}
    w_last = 0.5 * ctx.rng.randn(*params[f"W{last}"].shape)
    b_last = np.linspace(-0.5, 0.5, params[f"b{last}"].size)
    params[f"W{last}"], params[f"b{last}"] = w_last, b_last
    params[f"W{hidden}"] = np.zeros_like(params[f"W{hidden}"])
    params[f"b{hidden}"] = np.full_like(params[f"b{hidden}"], PROBE_LEVEL)
    pre = f"b{hidden}"
    if f"beta{hidden}" in params:
        params[f"gamma{hidden}"] = np.ones_like(params[f"gamma{hidden}"])
        params[f"beta{hidden}"] = np.full_like(params[f"beta{hidden}"], PROBE_LEVEL)
        pre = f"beta{hidden}"
    model, method = net_with(ctx, {**kw, "reg": 0.0}, params)
    x, y = ctx.rng.randn(1, kw["input_dim"]), np.zeros(1, dtype=np.int64)
    rows: list[np.ndarray] = []
    claimed: dict[str, list[Any]] = {"loss": [], f"W{last}": [], f"b{last}": [], pre: []}
    for r in range(REPEATS):
        _set_dropout_seed(ctx, model, SEED0 + r)
        loss, grads = ctx.returns(
            ctx.call(method, x.copy(), y.copy(), seed=SEED0 + r), ("loss", "grads"), "loss(X, y)"
        )
        h = _readout(ctx, grads, params, last)
        if h is None:
            return
        rows.append(h)
        claimed["loss"].append(loss)
        for name in (f"W{last}", f"b{last}", pre):
            claimed[name].append(grads.get(name))
    if ctx.oracle.live:
        _judge_from_units(ctx, rows, claimed, (w_last, b_last), y, pre, last)
    else:
        # A kit's oracle knows only inputs drawn from seeds, and h is the student's: the masks
        # are still judged below.
        ctx.notes.append(KIT_NOTE)
    judge_masks(ctx, np.array(rows), float(kw["dropout_keep_ratio"]), lambda: _varies(ctx, kw, ref))


def _judge_from_units(
    ctx: Context,
    rows: list[np.ndarray],
    claimed: dict[str, list[Any]],
    last_layer: tuple[np.ndarray, np.ndarray],
    y: np.ndarray,
    pre: str,
    last: int,
) -> None:
    """Compare the claimed loss and gradients with what the reference computes from each ``h``
    (rows: (K,) each; ``last_layer``: ``W_L`` (K, C) and ``b_L`` (C,))."""
    w_last, b_last = last_layer
    expected: dict[str, list[Any]] = {name: [] for name in claimed}
    for h in rows:
        loss, dscores = ctx.oracle.call("softmax_loss", (h @ w_last + b_last)[None, :], y)
        ds = np.asarray(dscores, dtype=np.float64)[0]
        expected["loss"].append(float(loss))
        expected[f"W{last}"].append(np.outer(h, ds))
        expected[f"b{last}"].append(ds)
        # ReLU passes (the unit is PROBE_LEVEL > 0); dropout's backward multiplies by the mask.
        expected[pre].append((ds @ w_last.T) * (h / PROBE_LEVEL))
    for name, values in claimed.items():
        what = "loss" if name == "loss" else f"grads['{name}']"
        ctx.compare(f"probe: {what}", _stacked(values, expected[name]), np.array(expected[name]))


def _varies(ctx: Context, kw: dict[str, Any], ref: Any) -> bool:
    """Whether the net's training loss (the reference's parameters, four random examples) changes
    with the dropout seed: evidence of dropout somewhere, which the probe alone cannot see."""
    model, method = net_with(ctx, kw, ref.params)
    x, y = ctx.rng.randn(4, kw["input_dim"]), np.zeros(4, dtype=np.int64)
    losses = []
    for r in range(2):
        _set_dropout_seed(ctx, model, SEED0 + r)
        reply = ctx.call(method, x.copy(), y.copy(), seed=SEED0 + r)
        losses.append(ctx.returns(reply, ("loss", "grads"), "loss(X, y)")[0])
    return not all(np.array_equal(np.asarray(losses[0]), np.asarray(v)) for v in losses[1:])


def _stacked(values: list[Any], like: list[Any]) -> Any:
    """The claimed values as one float64 array, or the first that does not fit (numbers where
    numbers are expected, arrays of the expected shape otherwise): the comparison names it."""
    fitted = []
    for value, model in zip(values, like, strict=True):
        if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
            if value.shape == np.shape(model) or (np.shape(model) == () and value.size == 1):
                fitted.append(value.reshape(np.shape(model)))
                continue
        elif np.shape(model) == () and (number := real_number(value)) is not None:
            fitted.append(np.float64(number))  # a huge int is inf here, not an OverflowError
            continue
        return value
    return np.array(fitted, dtype=np.float64)


def _readout(
    ctx: Context, grads: Any, params: dict[str, np.ndarray], last: int
) -> np.ndarray | None:
    """``h`` from ``dW_L = outer(h, db_L)``, or None after recording why it cannot be read."""
    dw = grads.get(f"W{last}") if isinstance(grads, dict) else None
    db = grads.get(f"b{last}") if isinstance(grads, dict) else None
    shape = params[f"W{last}"].shape
    if not (
        isinstance(dw, np.ndarray)
        and isinstance(db, np.ndarray)
        and dw.shape == shape
        and db.shape == (shape[1],)
        and dw.dtype.kind in "iuf"
        and db.dtype.kind in "iuf"
        and bool(np.all(np.isfinite(dw)))
        and bool(np.all(np.isfinite(db)))
    ):
        ctx.require(
            f"probe grads['W{last}']",
            False,
            f"grads['W{last}'] and grads['b{last}'] are not finite arrays of shapes {shape} and "
            f"{(shape[1],)} in the dropout probe",
        )
        return None
    ds = db.astype(np.float64)
    h = dw.astype(np.float64) @ ds / max(float(ds @ ds), 1e-300)
    if not np.any(ds) or not np.allclose(dw, np.outer(h, ds), rtol=1e-6, atol=1e-9):
        ctx.require(
            "probe rank",
            False,
            f"grads['W{last}'] for one example is not outer(h, grads['b{last}']): the backward "
            "pass of the last layer is wrong, so the dropout masks cannot be read",
        )
        return None
    return np.asarray(h)


def _set_dropout_seed(ctx: Context, model: Any, seed: int) -> None:
    """Vary the net's dropout seed between probe calls (a net without ``dropout_param`` draws
    from the global RNG, which the call seeds)."""
    try:
        ctx.request(
            "setitem", obj={"handle": model.id, "attr": "dropout_param"}, key="seed", value=seed
        )
    except StudentRaised:
        pass


def judge_masks(
    ctx: Context, h: np.ndarray, keep: float, varies: Callable[[], bool] = lambda: True
) -> None:
    """``h``: shape (repeats, K), the probe's units after dropout; judge values and rate.
    ``varies``: whether the net's loss changes with the dropout seed (asked only to name a net
    that drops nothing in its last hidden layer).

    Rows from different seeds are independent draws; a net that reseeds with a seed of its own
    repeats one mask, and then only that one row counts (the bound stays valid either way).
    """
    rows = h[:1] if np.all(h == h[:1]) else h
    judged = keep
    if ctx.api.flip_policy == "credit" and keep != 0.5 and not _fits(rows, keep):
        if _fits(rows, 1 - keep) and _rate_fits(rows, 1 - keep):
            judged = 1 - keep  # the course's policy: a true flip is graded under that meaning
            ctx.notes.append(
                "keep/drop flip accepted by this course's policy (the net's dropout was graded "
                "with p as the other probability)"
            )
    level = PROBE_LEVEL / judged
    zero = np.abs(rows) <= 1e-6 * level
    fits = _fits(rows, judged)
    values_ok = ctx.require(
        "probe mask values",
        fits,
        f"the last hidden layer's units after dropout should be 0 or {level:g} "
        f"(= {PROBE_LEVEL:g} / keep)"
        + ("" if fits else f"; found values such as {_odd_value(rows, judged):g}"),
    )
    rate = float(zero.mean())
    lo, hi = rate_interval(rows.size, 1 - judged)
    rate_ok = ctx.require(
        "probe zero fraction",
        lo < rate < hi,
        f"{rate:.3f} of the last hidden layer's units were dropped; expected {1 - judged:.3f} "
        f"(a random mask gives {lo:.3f} to {hi:.3f}; keep probability {judged:g})",
    )
    if (values_ok and rate_ok) or ctx.diagnosis:
        return
    nonzero = rows[~zero]
    if np.all(np.abs(rows - PROBE_LEVEL) <= 1e-6):
        ctx.diagnosis = (
            "the net never applies dropout after the last hidden layer in training"
            if varies()
            else "the net applies no dropout in training: its loss does not change with the "
            "dropout seed (use_dropout / dropout_param not wired into loss)"
        )
    elif nonzero.size and np.allclose(nonzero, PROBE_LEVEL) and lo < rate < hi:
        ctx.diagnosis = (
            "the net's dropout keeps units but does not scale them by 1/keep (inverted dropout)"
        )
    elif (
        nonzero.size
        and np.allclose(nonzero, PROBE_LEVEL / (1 - keep))
        and _rate_fits(rows, 1 - keep)
    ):
        ctx.diagnosis = "keep and drop probability flipped in the net's dropout"


def _fits(h: np.ndarray, keep: float) -> bool:
    """Every unit is 0 or ``PROBE_LEVEL / keep``."""
    level = PROBE_LEVEL / keep
    return bool(np.all((np.abs(h) <= 1e-6 * level) | (np.abs(h - level) <= 1e-6 * level)))


def _rate_fits(h: np.ndarray, keep: float) -> bool:
    """The fraction of zeros is within the bound of ``1 - keep``."""
    lo, hi = rate_interval(h.size, 1 - keep)
    return lo < float(np.mean(np.abs(h) <= 1e-6 * PROBE_LEVEL / keep)) < hi


def _odd_value(h: np.ndarray, keep: float) -> float:
    level = PROBE_LEVEL / keep
    ok = (np.abs(h) <= 1e-6 * level) | (np.abs(h - level) <= 1e-6 * level)
    return float(h[~ok][0]) if np.any(~ok) else float("nan")
