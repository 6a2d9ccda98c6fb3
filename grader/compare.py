"""The one tolerance rule, as a pure function that never raises on bad student data.

Rule: elementwise and asymmetric, with the reference as the expected value (numpy's
``assert_allclose`` semantics, but with tolerances from the spec, never numpy's 1e-7/0 defaults)::

    |actual - expected| <= atol + rtol * |expected|

* Shapes must match exactly (no broadcasting). A scalar expected value accepts a Python number,
  a 0-d array or a size-1 array.
* Only numeric dtypes compare (bool, int, float); object or string arrays fail. A list or tuple that
  converts cleanly to a numeric array is accepted, since students sometimes return lists.
* NaN or inf in the student's output where the reference is finite fails; a non-finite reference
  value must be matched exactly (the same inf, NaN for NaN).
* cs231n's ``rel_error`` is reported alongside, because students know it; it does not decide.

A failed comparison of same-shaped arrays also keeps an ``ErrorSample`` (``error_sample``): the
differences, small enough to plot in a report, never either array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.numeric import NotNumeric, numeric_array
from grader.results import GRID_MAX, Comparison, ErrorSample

__all__ = ["compare", "error_sample", "rel_error"]

HISTOGRAM_EDGES = tuple(float(e) for e in range(-12, 5))
"""log10 |error| bin edges of an ``ErrorSample``: 1e-12 (float64 noise) up to 1e4."""


def rel_error(x: Any, y: Any) -> float:
    """cs231n's relative error: max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))) if x.size else 0.0


def _as_numeric(value: Any) -> np.ndarray | str:
    """The student's value as a numeric array (sized before it is allocated), or a message
    saying why it is not one."""
    try:
        return numeric_array(value)
    except NotNumeric as exc:
        return f"got {exc}"


def compare(name: str, actual: Any, expected: Any, *, rtol: float, atol: float) -> Comparison:
    """Compare a student's output with the reference's; see the module docstring for the rule."""
    exp = np.asarray(expected, dtype=np.float64)
    act = _as_numeric(actual)
    if isinstance(act, str):
        return Comparison(name, False, f"expected an array of shape {exp.shape}, {act}")
    if exp.ndim == 0 and act.size == 1:
        act = act.reshape(())
    if act.shape != exp.shape:
        return Comparison(name, False, f"expected shape {exp.shape}, got {act.shape}")
    act = act.astype(np.float64)
    total = int(exp.size)
    bad_finite = ~np.isfinite(act) & np.isfinite(exp)
    if bad_finite.any():
        idx = _index(np.argwhere(bad_finite)[0], exp.ndim)
        kind = "NaN" if np.isnan(act[idx]) else ("inf" if act[idx] > 0 else "-inf")
        return Comparison(
            name,
            False,
            f"student output has {kind} at index {idx} where {_fmt(exp[idx])} was expected",
            mismatched=int(bad_finite.sum()),
            total=total,
            errors=error_sample(act, exp),
        )
    # inf - inf, inf / inf: non-finite expected values are judged by the masks below, not by the
    # arithmetic, and extreme student values must not make a pure function warn.
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(act - exp)
        threshold = atol + rtol * np.abs(exp)
        # A non-finite expected value must be matched exactly (numpy's rule: the same inf, or NaN
        # for NaN); otherwise its |diff| - threshold is NaN or inf - inf, which never compares > 0.
        special = ~np.isfinite(exp)
        same_special = special & ((act == exp) | (np.isnan(act) & np.isnan(exp)))
        excess = np.where(special, np.where(same_special, -np.inf, np.inf), diff - threshold)
        max_abs = float(np.max(np.where(same_special, 0.0, diff))) if total else 0.0
        rel = rel_error(np.where(same_special, 0, act), np.where(same_special, 0, exp))
    mismatched = int(np.sum(excess > 0))
    if mismatched == 0:
        return Comparison(
            name,
            True,
            f"max abs err {max_abs:.3g} (rel_error {rel:.3g})",
            max_abs_err=max_abs,
            max_rel_err=rel,
            total=total,
        )
    idx = _index(np.unravel_index(int(np.argmax(excess)), exp.shape), exp.ndim)
    where = f" at index {idx}" if exp.ndim else ""
    if special[idx]:
        why = "a non-finite expected value must be matched exactly"
    else:
        why = (
            f"|diff| {float(diff[idx]):.3g} > threshold {float(threshold[idx]):.3g}"
            f" = atol {atol:g} + rtol {rtol:g}·|expected|"
        )
    return Comparison(
        name,
        False,
        f"{mismatched} of {total} values differ; worst{where}: got {_fmt(act[idx])}, "
        f"expected {_fmt(exp[idx])} ({why})",
        max_abs_err=max_abs,
        max_rel_err=rel,
        mismatched=mismatched,
        total=total,
        errors=error_sample(act, exp),
    )


def error_sample(actual: np.ndarray, expected: np.ndarray) -> ErrorSample:
    """The differences of two same-shaped float64 arrays, for a plot.

    ``grid`` keeps got - expected whole for arrays of at most two axes longer than 1 and
    ``GRID_MAX`` elements (a heat map shows a wrong row or column at a glance); every array gets
    the histogram of log10 |got - expected| over ``HISTOGRAM_EDGES``, its non-finite values
    counted apart.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        diff = actual - expected
    finite = np.isfinite(diff)
    grid = None
    squeezed = diff.reshape([n for n in diff.shape if n != 1] or [1])
    if squeezed.ndim <= 2 and diff.size <= GRID_MAX:
        rows = squeezed.reshape(1, -1) if squeezed.ndim == 1 else squeezed
        grid = tuple(tuple(float(x) for x in row) for row in rows)
    with np.errstate(divide="ignore"):
        logs = np.log10(np.abs(diff[finite]))
    # Exact zeros and tiny errors fall in the first bin, huge ones in the last (clip, not drop).
    logs = np.clip(logs, HISTOGRAM_EDGES[0], HISTOGRAM_EDGES[-1])
    counts, _ = np.histogram(logs, bins=np.array(HISTOGRAM_EDGES))
    return ErrorSample(
        shape=tuple(int(n) for n in diff.shape),
        grid=grid,
        edges=HISTOGRAM_EDGES,
        counts=tuple(int(c) for c in counts),
        nonfinite=int((~finite).sum()),
    )


def _index(idx: Any, ndim: int) -> tuple[int, ...]:
    return tuple(int(i) for i in idx) if ndim else ()


def _fmt(x: Any) -> str:
    return f"{float(x):.10g}"
