"""The reference reproduces every canonical notebook fixture (reference.fixtures)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference.fixtures import FIXTURES, Fixture, abs_error, rel_error


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_reference_reproduces_fixture(fixture: Fixture) -> None:
    measured = fixture.compute()
    target = (f"|{measured!r} - {fixture.expected!r}| <= {fixture.tolerance}"
              if fixture.rule == "abs" else f"{measured!r} <= {fixture.tolerance}")
    assert fixture.passes(measured), f"{fixture.name} ({fixture.source}): {target} fails"


def test_fixture_names_are_unique_and_sources_cite_variants() -> None:
    names = [f.name for f in FIXTURES]
    assert len(set(names)) == len(names)
    assert all(f.source.startswith("variants.md §") for f in FIXTURES)
    assert all(f.rule in ("abs", "below") and f.tolerance >= 0 for f in FIXTURES)
    assert all(not math.isnan(f.expected) for f in FIXTURES if f.rule == "abs")


@pytest.mark.parametrize("name", ["optim_adam_next_w", "dropout_fwd_train_mean_p0.4",
                                  "fc_loss_reg0"])
def test_fixtures_leave_the_global_rng_alone(name: str) -> None:
    fixture = next(f for f in FIXTURES if f.name == name)
    np.random.seed(5)
    expected = np.random.rand(3)
    np.random.seed(5)
    fixture.compute()
    np.testing.assert_array_equal(np.random.rand(3), expected)


@pytest.mark.parametrize(("rule", "expected", "tolerance", "measured", "passes"), [
    ("abs", 2.0, 1e-3, 2.0009, True),
    ("abs", 2.0, 1e-3, 1.9989, False),
    ("abs", 2.0, 0.0, 2.0, True),
    ("below", 5e-9, 1e-8, 9.9e-9, True),
    ("below", 5e-9, 1e-8, 1.1e-8, False),
    ("below", math.nan, 1e-8, 0.0, True),
    ("abs", 2.0, 1.0, math.nan, False),
    ("below", 1.0, 1.0, math.nan, False),
])
def test_rules(rule: str, expected: float, tolerance: float, measured: float,
               passes: bool) -> None:
    fixture = Fixture("t", "variants.md §0", lambda: measured, expected, tolerance,
                      "abs" if rule == "abs" else "below")
    assert fixture.passes(measured) is passes


def test_rel_error_is_the_notebooks_symmetric_max() -> None:
    x = np.array([1.0, 0.0, 3.0])
    y = np.array([1.0, 1e-9, 2.0])
    # |3-2|/(3+2) = 0.2 dominates; the 0 vs 1e-9 pair is floored by 1e-8 in the denominator.
    assert rel_error(x, y) == pytest.approx(0.2)
    assert rel_error(y, x) == rel_error(x, y)
    assert rel_error([0.0], [1e-9]) == pytest.approx(0.1)


def test_abs_error_is_max_abs_difference() -> None:
    assert abs_error([[1.0, -2.0]], [[1.5, -2.25]]) == 0.5
