"""The report's plots: PNG data URLs that show what the data says (read back pixel by pixel)."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from matplotlib.image import imread

from grader.compare import HISTOGRAM_EDGES, compare
from grader.report import plots
from grader.results import ErrorSample

BAR = np.array([0x4A, 0x78, 0xB5]) / 255
"""The fill colour of the histograms (``plots._histogram``, ``plots.distribution_plot``)."""


def pixels(url: str) -> np.ndarray:
    """The plot as an RGB float array (rows from the top)."""
    assert plots.is_data_url(url)
    image = imread(io.BytesIO(base64.b64decode(url.removeprefix(plots.DATA_PREFIX))), "png")
    return np.asarray(image)[..., :3]


def sample(grid: list[list[float]]) -> ErrorSample:
    """A sample holding ``grid`` (its histogram is irrelevant to the heat map)."""
    return ErrorSample(
        shape=(len(grid), len(grid[0])),
        grid=tuple(tuple(row) for row in grid),
        edges=HISTOGRAM_EDGES,
        counts=(0,) * (len(HISTOGRAM_EDGES) - 1),
    )


def mean_row(image: np.ndarray, mask: np.ndarray) -> float:
    rows, _ = np.nonzero(mask)
    assert rows.size > 100, "the colour is missing from the plot"
    return float(rows.mean())


def map_part(image: np.ndarray) -> np.ndarray:
    """The left 80% of a heat map: the map itself, without its colour bar."""
    return image[:, : int(image.shape[1] * 0.8)]


def reds(image: np.ndarray) -> np.ndarray:
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return (r > g + 0.2) & (r > b + 0.2)


def blues(image: np.ndarray) -> np.ndarray:
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return (b > r + 0.2) & (b > g)


@pytest.mark.parametrize(("top", "bottom"), [(1.0, -1.0), (-1.0, 1.0)])
def test_the_heat_map_shows_the_sign_of_each_difference_where_it_is(
    top: float, bottom: float
) -> None:
    """got > expected is red, got < expected blue, each where it was in the array."""
    image = map_part(pixels(plots.error_plot(sample([[top, top], [bottom, bottom]]))))
    red_row, blue_row = mean_row(image, reds(image)), mean_row(image, blues(image))
    assert (red_row < blue_row) is (top > 0)


def test_non_finite_differences_are_black_cells() -> None:
    def black(grid: list[list[float]]) -> int:
        image = map_part(pixels(plots.error_plot(sample(grid))))
        return int(np.all(image < 0.05, axis=-1).sum())

    finite = black([[1.0, -1.0], [0.5, -0.5]])
    assert black([[math.nan, -1.0], [0.5, -0.5]]) > finite + 1000
    assert black([[math.inf, -1.0], [0.5, -0.5]]) > finite + 1000


def test_a_real_comparisons_sample_is_drawn_as_a_heat_map_or_a_histogram() -> None:
    """Small arrays keep their grid (a heat map, with a colour bar); large ones only the
    histogram, whose bars are in the histogram colour."""
    rng = np.random.default_rng(0)
    small = compare("dx", rng.normal(size=(4, 5)), np.zeros((4, 5)), rtol=1e-6, atol=1e-8)
    large = compare("dx", rng.normal(size=(80, 80)), np.zeros((80, 80)), rtol=1e-6, atol=1e-8)
    assert small.errors is not None and small.errors.grid is not None
    assert large.errors is not None and large.errors.grid is None
    heat, histogram = pixels(plots.error_plot(small.errors)), pixels(plots.error_plot(large.errors))
    assert reds(heat).sum() > 100 and blues(heat).sum() > 100
    assert np.all(np.isclose(histogram, BAR, atol=0.02), axis=-1).sum() > 500


def bar_columns(url: str) -> np.ndarray:
    """The x positions (pixel columns) covered by histogram bars."""
    image = pixels(url)
    _, cols = np.nonzero(np.all(np.isclose(image, BAR, atol=0.02), axis=-1))
    assert cols.size, "no bar drawn"
    return cols


def test_the_error_histogram_puts_each_count_in_its_bin() -> None:
    def histogram(counts: tuple[int, ...]) -> str:
        return plots.error_plot(ErrorSample((100, 100), None, (-12.0, -8.0, -4.0, 0.0), counts))

    tiny, huge = bar_columns(histogram((9, 0, 0))), bar_columns(histogram((0, 0, 9)))
    assert tiny.max() < huge.min()


def test_the_distribution_counts_a_value_outside_the_range_in_the_last_bin() -> None:
    """A score above the top (extra credit) is drawn, not dropped; the same data, the same bytes."""
    top = plots.distribution_plot([100.0, 10.0], xlabel="score", low=0, high=100)
    above = plots.distribution_plot([150.0, 10.0], xlabel="score", low=0, high=100)
    assert top is not None and top == above
    lower = plots.distribution_plot([50.0, 10.0], xlabel="score", low=0, high=100)
    assert lower is not None and bar_columns(lower).max() < bar_columns(top).max()


def test_there_is_no_distribution_of_nothing() -> None:
    assert plots.distribution_plot([], xlabel="x", low=0, high=1) is None
    assert plots.distribution_plot([math.nan], xlabel="x", low=0, high=1) is None


def test_training_curves_get_a_panel_per_axis_they_need() -> None:
    """Losses per iteration and accuracies per epoch do not share an x axis."""
    loss = plots.curves_plot({"loss": (2.3, 1.9, 1.5, 1.4)})
    both = plots.curves_plot({"loss": (2.3, 1.9, 1.5), "val_acc": (0.2, 0.3), "train_acc": (0.3,)})
    assert loss is not None and both is not None
    assert pixels(both).shape[1] == 2 * pixels(loss).shape[1]
    assert plots.curves_plot({}) is None
    assert plots.curves_plot({"loss": ()}) is None


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz4=",
        'data:image/png;base64,AAAA" onerror="alert(1)',
        "data:image/png;base64,AAAA\n",
        " data:image/png;base64,AAAA",
        "data:image/png;base64,",
    ],
)
def test_only_a_png_data_url_passes_as_one(text: str) -> None:
    assert not plots.is_data_url(text)
