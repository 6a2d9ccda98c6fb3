"""Property checks of the dropout layer that hold whatever way the mask is drawn (variants.md §9.1).

A correct inverted-dropout layer may draw its mask as ``U < keep``, ``U >= 1 - keep`` or with
``np.random.binomial``; the exact output then differs from the reference's, so instead of values
the check verifies: train-mode outputs are ``0`` or ``x / keep``; the fraction of zeros is within
a binomial bound of ``1 - keep`` (checked at keep != 0.5 so a keep/drop flip is visible); the
mean is preserved; the mask is random: its rows and columns are not correlated beyond chance,
two calls without a seed differ, two seeds differ and one seed repeats; test mode is the
identity; and the backward pass uses the forward's mask (whatever the forward did, as the
notebooks' gradient check does).

False failures: each statistical check uses a bound of ``grader.checks.mask_stats`` that a
correct layer (independent Bernoulli(keep) units) violates with probability at most ``ALPHA`` =
5e-11; the forward check runs at most 12 of them (zero fraction, mean, rows and columns at each
of three keep probabilities) plus two comparisons of independent masks, which coincide with
probability ``(keep^2 + (1-keep)^2)^units`` (below 1e-70000 for 500 x 500 units). A correct layer
therefore fails the forward check by chance with probability below 1e-9.

A keep/drop flip is only the true flip: units zeroed with the keep probability *and* rescaled by
1/(drop probability), i.e. a correct layer under the other meaning of p (it preserves the mean).
Under ``flip_policy = "credit"`` such a layer is graded as correct under that meaning; anything
else that mixes the two meanings (seed 002: zero with probability p, rescale by 1/p) is a mistake.
"""

from __future__ import annotations

import math

import numpy as np

from grader.checks.context import Context
from grader.checks.mask_stats import dispersion_interval, mean_bound, rate_interval

Z = 5.0  # binomial bound (in standard deviations) for naming a mistake; it decides no points
SEED = 123
"""The notebooks' dropout seed; the forward check also draws a second seed of its own."""
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
            _statistics(ctx, x, out, judged, label)
        ctx.compare(f"{label} test mode == x", test, x)
    _randomness(ctx, x)


def _statistics(ctx: Context, x: np.ndarray, out: np.ndarray, keep: float, label: str) -> None:
    """Rate, mean and independence of a train-mode mask whose values are 0 or x / keep.

    Each test's bound (``grader.checks.mask_stats``) fails a correct layer with probability at
    most 5e-11: the zero fraction (Chernoff), the mean (Bernstein), and the dispersion of the
    kept count per row and per column (Chernoff, exact binomial moments), which reveals rows or
    columns correlated beyond chance, in either direction.
    """
    kept = _kept(x, out)
    zeros = 1.0 - float(kept.mean())
    lo, hi = rate_interval(kept.size, 1.0 - keep)
    ctx.require(
        f"{label} zero fraction",
        lo < zeros < hi,
        f"{label}: {zeros:.4f} of the outputs are zero; expected {1 - keep:.4f} (a random mask "
        f"gives {lo:.4f} to {hi:.4f}; p is the {ctx.api.dropout_p} probability in this course)",
    )
    bound = mean_bound(x, keep) + 1e-12
    mean = float(out.mean())
    ctx.require(
        f"{label} mean",
        abs(mean - float(x.mean())) <= bound,
        f"{label}: train-mode mean {mean:.6g} vs input mean {float(x.mean()):.6g} (± "
        f"{bound:.3g}); inverted dropout preserves the mean",
    )
    ctx.require(
        f"{label} independent masks",
        not bool((kept == kept[:1]).all()),
        f"{label}: every row has the same dropped units",
    )
    if kept.ndim != 2:
        return
    for axis, what, one in ((1, "rows", "row"), (0, "columns", "column")):
        counts = kept.sum(axis=axis)
        size = kept.shape[axis]
        spread = float(np.mean((counts - size * keep) ** 2)) / (size * keep * (1 - keep))
        lo, hi = dispersion_interval(counts.size, size, keep)
        verdict = (
            f": every {one} keeps nearly the same number of units, more regular than chance"
            if spread <= lo
            else f": units of the same {one} are kept or dropped together more than by chance"
            if spread >= hi
            else ""
        )
        ctx.require(
            f"{label} random {what}",
            lo < spread < hi,
            f"{label}: the kept count per {one} has dispersion {spread:.3f} (its variance over "
            f"the binomial's); independent units give {lo:.3f} to {hi:.3f}{verdict}",
        )


def _kept(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Which units a train-mode output kept (x has no zeros)."""
    return np.asarray(np.abs(out) > 1e-9 * np.abs(x))


def _randomness(ctx: Context, x: np.ndarray) -> None:
    """The mask comes from the RNG: calls without a seed differ, seeds differ, a seed repeats.

    Two independent masks of ``n`` units coincide with probability ``(q^2 + (1-q)^2)^n``, below
    1e-70000 at keep 0.6 and 500 x 500 units: a correct layer never fails these by chance.
    """
    p = _course_p(ctx, 0.6)
    other = SEED
    while other == SEED:
        other = int(ctx.rng.randint(1, 2**31 - 1))

    def mask(seed: int | None) -> np.ndarray | None:
        param: dict[str, object] = {"mode": "train", "p": p}
        if seed is not None:
            param["seed"] = seed
        out = ctx.call("dropout_forward", x.copy(), param, keep=(1,))[0]
        ok = isinstance(out, np.ndarray) and out.shape == x.shape
        return _kept(x, out) if ok else None

    def differ(name: str, a: np.ndarray | None, b: np.ndarray | None, message: str) -> None:
        if a is None or b is None:
            ctx.require(name, False, f"dropout_forward did not return an array of shape {x.shape}")
        else:
            ctx.require(name, not np.array_equal(a, b), message)

    differ(
        "unseeded calls differ",
        mask(None),
        mask(None),
        "two train-mode calls without a seed dropped the same units: draw the mask from "
        "np.random at every call (not a fixed pattern or a constant seed)",
    )
    first = ctx.call(
        "dropout_forward", x.copy(), {"mode": "train", "p": p, "seed": SEED}, keep=(1,)
    )[0]
    second = ctx.call(
        "dropout_forward", x.copy(), {"mode": "train", "p": p, "seed": SEED}, keep=(1,)
    )[0]
    ctx.compare("seeded calls reproducible", second, first)
    seeded = isinstance(first, np.ndarray) and first.shape == x.shape
    differ(
        "seeds change the mask",
        _kept(x, first) if seeded else None,
        mask(other),
        f"dropout_param['seed'] = {SEED} and {other} gave the same mask: seed the RNG with "
        "dropout_param['seed'] when it is given",
    )


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
