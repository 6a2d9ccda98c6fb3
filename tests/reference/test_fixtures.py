"""The reference reproduces every canonical notebook fixture (reference.fixtures)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference.fixtures import (
    EXACT_TOL,
    FIXTURES,
    Fixture,
    abs_error,
    printed_tolerance,
    rel_error,
)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_reference_reproduces_fixture(fixture: Fixture) -> None:
    measured = fixture.compute()
    target = (
        f"|{measured!r} - {fixture.expected!r}| <= {fixture.tolerance}"
        if fixture.rule == "abs"
        else f"{measured!r} <= {fixture.tolerance}"
    )
    assert fixture.passes(measured), f"{fixture.name} ({fixture.source}): {target} fails"


def test_fixture_names_are_unique_and_sources_cite_variants() -> None:
    names = [f.name for f in FIXTURES]
    assert len(set(names)) == len(names)
    assert all(f.source.startswith("variants.md §") for f in FIXTURES)
    assert all(f.rule in ("abs", "below") and f.tolerance >= 0 for f in FIXTURES)
    assert all(not math.isnan(f.expected) for f in FIXTURES if f.rule == "abs")


@pytest.mark.parametrize(
    "name",
    [
        "optim_adam_next_w",
        "dropout_fwd_train_mean_p0.4",
        "fc_loss_reg0",
        "c147_fc_dropout_loss_keep_semantics_p0.25",
        "cs182_bn_backward_dx",
        "dase_dropout_mask_p0.8",
    ],
)
def test_fixtures_leave_the_global_rng_alone(name: str) -> None:
    fixture = next(f for f in FIXTURES if f.name == name)
    np.random.seed(5)
    expected = np.random.rand(3)
    np.random.seed(5)
    fixture.compute()
    np.testing.assert_array_equal(np.random.rand(3), expected)


@pytest.mark.parametrize(
    ("rule", "expected", "tolerance", "measured", "passes"),
    [
        ("abs", 2.0, 1e-3, 2.0009, True),
        ("abs", 2.0, 1e-3, 1.9989, False),
        ("abs", 2.0, 0.0, 2.0, True),
        ("below", 5e-9, 1e-8, 9.9e-9, True),
        ("below", 5e-9, 1e-8, 1.1e-8, False),
        ("below", math.nan, 1e-8, 0.0, True),
        ("abs", 2.0, 1.0, math.nan, False),
        ("below", 1.0, 1.0, math.nan, False),
    ],
)
def test_rules(rule: str, expected: float, tolerance: float, measured: float, passes: bool) -> None:
    fixture = Fixture(
        "t",
        "variants.md §0",
        lambda: measured,
        expected,
        tolerance,
        "abs" if rule == "abs" else "below",
    )
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


# The numbers the acceptance lists (and the brief's additions, variants.md §5.4, §6.4
# item 3, §7.4 item 3): each must be an exact-replay row of the selftest table.
ACCEPTANCE = {
    "optim_momentum_next_w": 8.882347033505819e-09,
    "optim_momentum_velocity": 4.269287743278663e-09,
    "optim_nesterov_next_w": 1.08751868451e-08,
    "optim_rmsprop_next_w": 9.524687511038133e-08,
    "optim_rmsprop_cache": 2.6477955807156126e-09,
    "optim_adam_next_w": 1.1395691798535431e-07,
    "optim_adam_m": 4.214963193114416e-09,
    "optim_adam_v": 4.208314038113071e-09,
    "dropout_fwd_train_mean_p0.25": 10.014059116977283,
    "dropout_fwd_train_mean_p0.4": 9.977917658761159,
    "dropout_fwd_train_mean_p0.7": 9.987811912159426,
    "dropout_fwd_zero_fraction_p0.25": 0.749784,
    "dropout_fwd_zero_fraction_p0.4": 0.600796,
    "dropout_fwd_zero_fraction_p0.7": 0.30074,
    "dropout_backward": 5.44560814873387e-11,
    "fc_dropout_loss_keep1": 2.3004790897684924,
    "fc_dropout_loss_keep0.75": 2.302371489704412,
    "fc_dropout_loss_keep0.5": 2.3042759220785896,
    "fc_loss_reg0": 2.300479089768492,
    "fc_loss_reg3.14": 7.052114776533016,
    "fc_batchnorm_loss_reg0": 2.2611955101340957,
    "fc_batchnorm_loss_reg3.14": 6.996533220108303,
    "cs182_expected_a_norm": 4.3424073226105975e-09,
    "cs182_expected_bn_forward_output": 5.00e-08,
    "cs182_bn_backward_dx": 2.0718949604593364e-09,
    "cs182_bn_backward_dgamma": 2.3439059333191323e-12,
    "cs182_bn_backward_dbeta": 2.6356334174796573e-12,
    "c147_fc_dropout_loss_keep_semantics_p0": 2.3051948273987857,
    "c147_fc_dropout_loss_keep_semantics_p0.25": 2.3126468345657742,
    "c147_fc_dropout_loss_keep_semantics_p0.5": 2.302437587710995,
    "c147_fc_dropout_loss_drop_semantics_p0": 2.3051948273987857,
    "c147_fc_dropout_loss_drop_semantics_p0.25": 2.29898614757146,
    "c147_fc_dropout_loss_drop_semantics_p0.5": 2.302437587710995,
    "dase_dropout_mask_p0.8": 0.0,
    "twolayer_loss": 3.4702243555953918,
    "twolayer_loss_reg1": 26.594842695238583,
}
# The thresholds the acceptance states besides the exact values.
ACCEPTANCE_BOUNDS = {
    "optim_momentum_next_w": 1e-8,
    "optim_rmsprop_next_w": 1e-7,
    "optim_adam_next_w": 1.2e-7,
    "optim_rmsprop_cache": 1e-8,
    "optim_adam_m": 1e-8,
    "optim_adam_v": 1e-8,
    "optim_momentum_velocity": 1e-8,
    "optim_nesterov_velocity": 1e-8,
    "dropout_backward": 1e-10,
    "cs182_expected_a_norm": 1e-8,
    "cs182_expected_bn_forward_output": 1e-7,
}


@pytest.mark.parametrize("name", sorted(ACCEPTANCE))
def test_acceptance_numbers_are_exact_rows_of_the_table(name: str) -> None:
    fixture = next((f for f in FIXTURES if f.name == name), None)
    assert fixture is not None, f"{name} missing from reference.fixtures.FIXTURES"
    assert fixture.rule == "abs" and fixture.expected == ACCEPTANCE[name]
    # 1e-12, widened only for a rounded printout by half a unit in its last digit
    assert EXACT_TOL <= fixture.tolerance <= EXACT_TOL + 5e-11
    if name in ACCEPTANCE_BOUNDS:
        assert fixture.bound == ACCEPTANCE_BOUNDS[name]


def test_abs_rows_are_exact_replays_except_the_stated_notebook_asserts() -> None:
    loose = {f.name for f in FIXTURES if f.rule == "abs" and f.tolerance > EXACT_TOL + 1e-15}
    # The CS182 "5.00e-08" printout, and the TwoLayerNet cell's own asserts (|d| < 1e-10).
    assert loose == {
        "cs182_expected_bn_forward_output",
        "twolayer_loss_notebook_assert",
        "twolayer_loss_reg1_notebook_assert",
    }


@pytest.mark.parametrize(
    ("text", "half_unit"),
    [
        ("1.08751868451e-08", 5e-20),  # Python 2 print: 12 significant digits
        ("5.00e-08", 5e-11),  # %.2e
        ("1.01531428", 5e-9),  # numpy's 8 decimals
        ("-0.03927354", 5e-9),
        ("8.882347033505819e-09", 5e-25),  # a full repr: effectively EXACT_TOL
    ],
)
def test_printed_tolerance(text: str, half_unit: float) -> None:
    assert printed_tolerance(text) == pytest.approx(EXACT_TOL + half_unit, rel=1e-12)


@pytest.mark.parametrize("text", ["nan", "inf"])
def test_printed_tolerance_rejects_non_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        printed_tolerance(text)


def test_bound_is_checked_as_well_as_the_abs_rule() -> None:
    fixture = Fixture("t", "variants.md §0", lambda: 2.0, 9e-9, 1e-12, "abs", 1e-8)
    assert fixture.passes(9e-9 + 5e-13)
    assert not fixture.passes(9e-9 + 2e-12)  # bound holds, exact value does not
    relaxed = Fixture("t", "variants.md §0", lambda: 2.0, 9e-9, 1e-7, "abs", 1e-8)
    assert not relaxed.passes(1.5e-8)  # within the tolerance, above the notebook bound
    assert Fixture("t", "variants.md §0", lambda: 2.0, 2.0, 1e-12, "abs").bound == math.inf
