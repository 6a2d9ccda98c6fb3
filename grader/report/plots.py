"""Plots for the HTML reports, drawn to PNG data URLs that a report embeds whole.

A report is one file that opens anywhere without a network, so each plot travels inside it as
``data:image/png;base64,...``. Figures are made with ``matplotlib.figure.Figure`` and the Agg
canvas directly, never ``pyplot``: no global figure registry, no backend switch, nothing shared
between the reports a batch renders in one process. Sizes and dpi are small (a report of a few
dozen checks stays a few hundred kilobytes), and the PNG carries no ``Software`` stamp, so the
same result draws the same bytes.

Every label is the grader's own (curve and comparison names come from the spec and the checks),
never a student's text; ``is_data_url`` is what a template asks before it embeds a string.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from grader.results import ErrorSample

__all__ = [
    "DATA_PREFIX",
    "clear_cache",
    "curves_plot",
    "distribution_plot",
    "error_plot",
    "is_data_url",
]

DATA_PREFIX = "data:image/png;base64,"
DPI = 90
CACHED = 256
"""Plots remembered per process: the student's and the instructor's report of one submission
draw the same ones, and drawing is most of the time a report takes."""
_DATA_URL = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]+={0,2}")
_DIVERGING = colormaps["RdBu_r"].with_extremes(bad="#000000")
"""Blue below 0, red above; black cells where the student's value was NaN or infinite."""


def is_data_url(text: str) -> bool:
    """Whether ``text`` is a PNG data URL of the form this module makes (and nothing else)."""
    return _DATA_URL.fullmatch(text) is not None


def _figure(
    width: float, height: float, *, layout: Literal["constrained"] | None = "constrained"
) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _data_url(fig: Figure) -> str:
    """The figure as a PNG data URL, without metadata that would change between runs."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return DATA_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def clear_cache() -> None:
    """Forget the plots drawn so far (a benchmark measures drawing every plot afresh)."""
    _curves.cache_clear()
    error_plot.cache_clear()


def curves_plot(curves: Mapping[str, Sequence[float]]) -> str | None:
    """Training histories: losses per iteration on the left, the others (accuracies per epoch)
    on the right; None when there is nothing to draw."""
    return _curves(tuple((k, tuple(v)) for k, v in sorted(curves.items()) if len(v)))


@functools.lru_cache(maxsize=CACHED)
def _curves(curves: tuple[tuple[str, tuple[float, ...]], ...]) -> str | None:
    kept = {k: np.asarray(v, dtype=float) for k, v in curves}
    losses = {k: v for k, v in kept.items() if "loss" in k}
    others = {k: v for k, v in kept.items() if k not in losses}
    panels = [(p, x) for p, x in ((losses, "iteration"), (others, "epoch")) if p]
    if not panels:
        return None
    fig = _figure(3.4 * len(panels), 2.4)
    for i, (series, xlabel) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), i)
        for name, values in series.items():
            ax.plot(np.arange(len(values)), values, label=name, linewidth=1)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return _data_url(fig)


@functools.lru_cache(maxsize=CACHED)
def error_plot(sample: ErrorSample) -> str:
    """A failing comparison's errors: the heat map of got - expected when the sample keeps the
    grid, else the histogram of log10 |got - expected|."""
    if sample.grid is not None:
        return _heat_map(sample.grid, sample.shape)
    return _histogram(sample)


def _heat_map(grid: Sequence[Sequence[float]], shape: Sequence[int]) -> str:
    """Signed differences, symmetric colours around 0; non-finite cells black."""
    values = np.ma.masked_invalid(np.asarray(grid, dtype=float))
    rows = values.shape[0]
    limit = float(np.max(np.abs(values))) if values.count() else 0.0
    limit = limit if limit > 0 and math.isfinite(limit) else 1.0
    fig = _figure(4.0, 2.6 if rows > 1 else 1.3, layout=None)
    # Fixed places for the map and its colour bar: a layout engine would double the time.
    bottom = 0.16 if rows > 1 else 0.36
    ax = fig.add_axes((0.12, bottom, 0.68, 0.84 - bottom - 0.04))
    image = ax.imshow(
        values,
        cmap=_DIVERGING,
        norm=TwoSlopeNorm(0.0, -limit, limit),
        aspect="auto",
        interpolation="nearest",
    )
    bar = fig.colorbar(image, cax=fig.add_axes((0.84, bottom, 0.03, 0.84 - bottom - 0.04)))
    bar.set_ticks([-limit, 0.0, limit])
    bar.ax.tick_params(labelsize=7)
    title = "got - expected, shape " + "x".join(map(str, shape))
    if values.mask.any():
        title += f"; black: non-finite ({int(values.mask.sum())})"
    ax.set_title(title, fontsize=8)
    if rows > 1:
        ax.set_ylabel("row", fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    else:
        ax.set_yticks([])
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.tick_params(labelsize=7)
    return _data_url(fig)


def _histogram(sample: ErrorSample) -> str:
    """How many elements were off by how much (log10 of |got - expected|)."""
    fig = _figure(3.6, 2.2)
    ax = fig.add_subplot()
    ax.stairs(sample.counts, sample.edges, fill=True, color="#4a78b5")
    ax.set_xlabel("log10 |got - expected|", fontsize=8)
    ax.set_ylabel("elements", fontsize=8)
    title = "shape " + "x".join(map(str, sample.shape))
    if sample.nonfinite:
        title += f"; {sample.nonfinite} non-finite (not shown)"
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)
    return _data_url(fig)


def distribution_plot(
    values: Sequence[float], *, xlabel: str, low: float, high: float, bins: int = 20
) -> str | None:
    """A histogram of ``values`` over ``[low, high]`` (a class's scores, its accuracies); None
    when there are no finite values."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    fig = _figure(4.2, 2.2)
    ax = fig.add_subplot()
    counts, edges = np.histogram(np.clip(finite, low, high), bins=bins, range=(low, high))
    ax.stairs(counts, edges, fill=True, color="#4a78b5")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("submissions", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=7)
    return _data_url(fig)
