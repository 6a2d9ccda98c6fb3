"""Property checks of the dropout layer that hold whatever way the mask is drawn (variants.md §9.1).

A correct inverted-dropout layer may draw its mask as ``U < keep``, ``U >= 1 - keep`` or with
``np.random.binomial``; the exact output then differs from the reference's, so instead of values
the check verifies: train-mode outputs are ``0`` or ``x / keep``; the fraction of zeros is within
a binomial bound of ``1 - keep`` (checked at keep != 0.5 so a keep/drop flip is visible); the
mean is preserved; test mode is the identity; a seeded call is reproducible; and the backward
pass uses the forward's mask (whatever the forward did, as the notebooks' gradient check does).

A keep/drop flip is only the true flip: units zeroed with the keep probability *and* rescaled by
1/(drop probability), i.e. a correct layer under the other meaning of p (it preserves the mean).
Under ``flip_policy = "credit"`` such a layer is graded as correct under that meaning; anything
else that mixes the two meanings (seed 002: zero with probability p, rescale by 1/p) is a mistake.
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks.context import Context

Z = 5.0  # binomial bound in standard deviations: a correct layer fails with probability < 1e-6
FLIPPED = "keep and drop probabilities are flipped"
"""Start of the diagnosis of a true flip (the only pattern ``flip_policy = "credit"`` accepts)."""


def _course_p(ctx: Context, keep: float) -> float:
    return keep if ctx.api.dropout_p == "keep" else 1.0 - keep


def forward(ctx: Context) -> None:
    """Train/test behaviour of ``dropout_forward`` at each keep probability of the check."""
    x = ctx.randn("x", (500, 500), shift=float(ctx.param("shift", 10.0)))
    credit = ctx.api.flip_policy == "credit"
    for keep in ctx.param("keep", [0.25, 0.4, 0.7]):
        p = _course_p(ctx, keep)
        label = f"p={p:g}"
        out, _ = ctx.returns(
            ctx.call("dropout_forward", x.copy(), {"mode": "train", "p": p}, keep=(1,)),
            ("out", "cache"),
            "dropout_forward",
        )
        test, _ = ctx.returns(
            ctx.call("dropout_forward", x.copy(), {"mode": "test", "p": p}, keep=(1,)),
            ("out", "cache"),
            "dropout_forward",
        )
        signature = None
        if isinstance(out, np.ndarray) and out.shape == x.shape:
            signature = _signature(ctx, x, out, test, keep)
        judged = keep
        if credit and signature is not None and signature.startswith(FLIPPED):
            # The course's policy: grade the layer as correct under the other meaning of p.
            judged = 1.0 - keep
            note = (
                "keep/drop flip accepted by this course's policy "
                "(graded with p as the other probability)"
            )
            if note not in ctx.notes:
                ctx.notes.append(note)
        else:
            ctx.diagnosis = ctx.diagnosis or signature
        if _values(ctx, x, out, judged, label):
            zeros = float(np.mean(out == 0))
            bound = Z * math.sqrt(judged * (1 - judged) / x.size)
            ctx.require(
                f"{label} zero fraction",
                abs(zeros - (1 - judged)) <= bound,
                f"{label}: {zeros:.4f} of the outputs are zero; expected {1 - judged:.4f} ± "
                f"{bound:.4f} "
                f"(p is the {ctx.api.dropout_p} probability in this course)",
            )
            mean_bound = (
                Z * float(np.abs(x).mean()) * math.sqrt((1 - judged) / judged / x.size) + 1e-12
            )
            ctx.require(
                f"{label} mean",
                abs(float(out.mean()) - float(x.mean())) <= mean_bound,
                f"{label}: train-mode mean {float(out.mean()):.6g} vs input mean "
                f"{float(x.mean()):.6g}; "
                "inverted dropout preserves the mean",
            )
            zero_rows = out == 0
            ctx.require(
                f"{label} independent masks",
                not bool((zero_rows == zero_rows[:1]).all()),
                f"{label}: every row has the same dropped units",
            )
        ctx.compare(f"{label} test mode == x", test, x)
    p = _course_p(ctx, 0.6)
    first = ctx.call(
        "dropout_forward", x.copy(), {"mode": "train", "p": p, "seed": 123}, keep=(1,)
    )[0]
    second = ctx.call(
        "dropout_forward", x.copy(), {"mode": "train", "p": p, "seed": 123}, keep=(1,)
    )[0]
    ctx.compare("seeded calls reproducible", second, first)


def _near(value: float, target: float, n: int) -> bool:
    """Within the binomial bound of a fraction ``target`` measured on ``n`` units."""
    return abs(value - target) <= Z * math.sqrt(max(target * (1 - target), 1e-12) / n) + 1e-9


def _signature(
    ctx: Context, x: np.ndarray, out: np.ndarray, test: object, keep: float
) -> str | None:
    """Name the known dropout mistake the train/test outputs show, by their statistics."""
    ratio = out / x
    kept = ~np.isclose(ratio, 0.0, atol=1e-9)
    zeros = float(1.0 - kept.mean())
    scale = float(np.median(ratio[kept])) if kept.any() else 0.0
    n = x.size

    def near_scale(s: float) -> bool:
        return abs(scale - s) <= 1e-6 * max(1.0, abs(s))

    if isinstance(test, np.ndarray) and test.shape == x.shape and not np.allclose(test, x):
        for factor, what in (
            (keep, "multiplied by the keep probability"),
            (1 / keep, "divided by the keep probability"),
        ):
            if np.allclose(test, x * factor):
                return (
                    f"scaling is applied at test time too (test output {what}); "
                    "test mode must return x"
                )
    if zeros == 0.0 and near_scale(1.0):
        return (
            "the train-mode output equals the input: the mask keeps everything (check operator "
            "precedence: `rand < p / p` compares with p / p = 1)"
        )
    # Which fraction is zeroed, and what the kept units are divided by: keep or 1 - keep.
    zeroed = (
        "keep"
        if keep != 0.5 and _near(zeros, keep, n)
        else "drop"
        if _near(zeros, 1 - keep, n)
        else None
    )
    divisor = (
        "keep"
        if keep != 0.5 and near_scale(1 / keep)
        else "drop"
        if keep != 0.5 and near_scale(1 / (1 - keep))
        else "one"
        if near_scale(1.0)
        else None
    )
    if zeroed == "keep" and divisor == "drop":
        # A correct layer under the other meaning of p: it keeps each unit with 1 - keep and
        # divides by 1 - keep, so the mean is preserved.
        return f"{FLIPPED}: in this course p is the {ctx.api.dropout_p} probability"
    if zeroed is not None and zeroed == divisor:
        # Seed 002 (variants.md §4.4): zero with probability p, divide by p. The mask and the
        # rescaling read p in opposite ways, so the mean is not preserved; never a flip.
        z = _in_p(ctx, zeroed)
        return (
            f"units are zeroed with probability {z} and the kept ones rescaled by 1/{_paren(z)}: "
            "the mask "
            "and the rescaling disagree about what p means, so the mean is not preserved (in "
            "this course p "
            f"is the {ctx.api.dropout_p} probability: keep each unit with probability "
            f"{_in_p(ctx, 'keep')} "
            f"and divide by it)"
        )
    if zeroed == "drop" and divisor == "one":
        return (
            "no inverted scaling: kept units must be divided by the keep probability "
            "during training"
        )
    zero_rows = out == 0
    if out.shape[0] > 1 and bool((zero_rows == zero_rows[:1]).all()):
        return "one mask is shared by the whole batch; draw the mask with the shape of x"
    return None


def _in_p(ctx: Context, which: str) -> str:
    """The keep (``which = "keep"``) or drop probability written in terms of the course's p."""
    return "p" if (which == "keep") == (ctx.api.dropout_p == "keep") else "1 - p"


def _paren(expr: str) -> str:
    return expr if expr == "p" else f"({expr})"


def backward(ctx: Context) -> None:
    """``dropout_backward`` multiplies dout by the mask the forward pass used."""
    keep = float(ctx.param("keep", 0.6))
    p = _course_p(ctx, keep)
    x = ctx.randn("x", (10, 10), shift=10.0)
    dout = ctx.randn("dout", x.shape)
    out, cache = ctx.returns(
        ctx.call("dropout_forward", x.copy(), {"mode": "train", "p": p, "seed": 123}, keep=(1,)),
        ("out", "cache"),
        "dropout_forward",
    )
    # Judged against the student's own forward, like the notebooks' gradient check: a mistake in
    # the forward's mask costs dropout_forward, not the backward that applies that mask.
    if not ctx.require(
        "forward output",
        isinstance(out, np.ndarray) and out.shape == x.shape,
        f"dropout_forward returned {getattr(out, 'shape', type(out).__name__)}; expected an array "
        f"of shape {x.shape}",
    ):
        return
    dx = ctx.call("dropout_backward", dout.copy(), cache)
    ctx.compare("dx = dout * mask", dx, dout * (out / x))
    out, cache = ctx.returns(
        ctx.call("dropout_forward", x.copy(), {"mode": "test", "p": p}, keep=(1,)),
        ("out", "cache"),
        "dropout_forward",
    )
    ctx.compare("test-mode dx = dout", ctx.call("dropout_backward", dout.copy(), cache), dout)


def _values(ctx: Context, x: np.ndarray, out: object, keep: float, label: str) -> bool:
    """Every train-mode output is 0 or x / keep."""
    if not isinstance(out, np.ndarray) or out.shape != x.shape:
        return ctx.require(
            f"{label} output",
            False,
            f"{label}: expected an array of shape {x.shape}, got "
            f"{getattr(out, 'shape', type(out).__name__)}",
        )
    ratio = out / x
    ok = np.isclose(ratio, 0.0, atol=1e-9) | np.isclose(ratio, 1.0 / keep, rtol=1e-6)
    if ok.all():
        return ctx.require(f"{label} values", True, f"{label}: outputs are 0 or x/keep")
    bad = tuple(int(i) for i in np.argwhere(~ok)[0])
    seen = np.unique(np.round(ratio[~ok], 6))[:3]
    return ctx.require(
        f"{label} values",
        False,
        f"{label}: outputs must be 0 or x/keep = x*{1 / keep:.6g}; at {bad} out/x = "
        f"{ratio[bad]:.6g} "
        f"(other ratios seen: {', '.join(f'{r:g}' for r in seen)})",
    )


FORWARD = {"dropout_forward": forward}
BACKWARD = {"dropout_backward": backward}
