"""grader.selftest: the fixture table and its exit status."""

from __future__ import annotations

import io
import math

import pytest

from grader.selftest import run_fixture, selftest
from reference.fixtures import FIXTURES, Fixture


def _boom() -> float:
    raise RuntimeError("reference module missing\nsecond line")


PASSING = Fixture("good_abs", "variants.md §1.3", lambda: 1.0 + 1e-13, 1.0, 1e-12, "abs")
PASSING_BELOW = Fixture("good_below", "variants.md §2.4", lambda: 3e-9, 5e-9, 1e-8, "below")
FAILING = Fixture("bad_below", "variants.md §6.4", lambda: 2e-7, math.nan, 1e-7, "below")
CRASHING = Fixture("crashing", "variants.md §10.1", _boom, 3.47, 1e-12, "abs")
BOUNDED = Fixture("bounded", "variants.md §1.3", lambda: 9e-9, 9e-9, 1e-12, "abs", 1e-8)
OVER_BOUND = Fixture("over_bound", "variants.md §1.3", lambda: 2e-8, 2e-8, 1e-12, "abs", 1e-8)


def _run(fixtures: list[Fixture]) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = selftest(out, fixtures=fixtures)
    return status, out.getvalue().splitlines()


def test_all_passing_returns_zero_and_prints_one_row_each() -> None:
    status, lines = _run([PASSING, PASSING_BELOW])
    assert status == 0
    assert lines[0].split() == [
        "fixture",
        "source",
        "measured",
        "expected",
        "/",
        "threshold",
        "result",
    ]
    rows = {line.split()[0]: line for line in lines[2:4]}
    assert rows["good_abs"].endswith("PASS") and "1.0000000000001" in rows["good_abs"]
    assert "1.0 ± 1e-12" in rows["good_abs"]
    assert "<= 1.0e-08 (printed 5e-09)" in rows["good_below"]
    assert lines[-1] == "2/2 fixtures passed"


@pytest.mark.parametrize("bad", [FAILING, CRASHING, OVER_BOUND])
def test_any_failure_returns_one_and_the_run_goes_on(bad: Fixture) -> None:
    status, lines = _run([bad, PASSING])
    assert status == 1
    row = next(line for line in lines if line.startswith(bad.name))
    assert row.endswith("FAIL")
    assert next(line for line in lines if line.startswith("good_abs")).endswith("PASS")
    assert lines[-1] == "1/2 fixtures passed, 1 FAILED"


def test_notebook_bound_is_shown_next_to_the_exact_value() -> None:
    status, lines = _run([BOUNDED])
    assert status == 0
    assert "9e-09 ± 1e-12, <= 1.0e-08" in lines[2] and lines[2].endswith("PASS")
    assert run_fixture(OVER_BOUND).passed is False


def test_crash_is_reported_on_one_line_with_its_type() -> None:
    outcome = run_fixture(CRASHING)
    assert outcome.measured is None and not outcome.passed
    assert outcome.error == "RuntimeError: reference module missing\nsecond line"
    _, lines = _run([CRASHING])
    assert "RuntimeError: reference module missing second line" in lines[2]


def test_columns_are_aligned() -> None:
    _, lines = _run([PASSING, FAILING, CRASHING])
    result_column = lines[0].index("result")
    assert all(line[result_column:] in ("PASS", "FAIL") for line in lines[2:5])


def test_canonical_fixtures_all_pass() -> None:
    out = io.StringIO()
    assert selftest(out) == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1] == f"{len(FIXTURES)}/{len(FIXTURES)} fixtures passed"
