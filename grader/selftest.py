"""``nngrader selftest``: check that the trusted reference reproduces the notebook fixtures.

Runs every :data:`reference.fixtures.FIXTURES` entry in this (trusted) process and prints one
table row per fixture. A failing or crashing fixture is reported and the run goes on, so one
table shows everything that is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from reference.fixtures import FIXTURES, Fixture

__all__ = ["FixtureOutcome", "run_fixture", "selftest"]

_ERROR_WIDTH = 60  # crash messages are cut so that the table stays readable


@dataclass(frozen=True)
class FixtureOutcome:
    """Result of running one fixture."""

    fixture: Fixture
    """The fixture that ran."""
    measured: float | None
    """The number its cell produced, or ``None`` when the cell raised."""
    passed: bool
    """Whether ``measured`` satisfied the fixture's rule and its notebook bound."""
    error: str | None = None
    """``"ExceptionType: message"`` when the cell raised."""


def run_fixture(fixture: Fixture) -> FixtureOutcome:
    """Run one fixture, turning any exception of its cell into a failed outcome.

    Args:
        fixture: The fixture to run.

    Returns:
        The outcome; never raises for a failing or crashing cell.
    """
    try:
        measured = float(fixture.compute())
    except Exception as exc:  # a broken reference is exactly what selftest must report
        return FixtureOutcome(fixture, None, False, f"{type(exc).__name__}: {exc}")
    return FixtureOutcome(fixture, measured, fixture.passes(measured))


def _target(fixture: Fixture) -> str:
    if fixture.rule == "abs":
        bound = "" if math.isinf(fixture.bound) else f", <= {fixture.bound:.1e}"
        return f"{fixture.expected!r} ± {fixture.tolerance:.0e}{bound}"
    note = "" if math.isnan(fixture.expected) else f" (printed {fixture.expected:.4g})"
    return f"<= {fixture.tolerance:.1e}{note}"


def _measured(outcome: FixtureOutcome) -> str:
    if outcome.error is not None:
        text = " ".join(outcome.error.split())
        return text if len(text) <= _ERROR_WIDTH else text[: _ERROR_WIDTH - 3] + "..."
    return repr(outcome.measured)


def selftest(stream: TextIO, *, fixtures: Sequence[Fixture] = FIXTURES) -> int:
    """Run the reference fixtures and print a table of the results.

    Args:
        stream: Where the table goes (e.g. ``sys.stdout``).
        fixtures: The fixtures to run; all canonical ones by default.

    Returns:
        0 when every fixture passes, 1 otherwise (the CLI's exit code).
    """
    outcomes = [run_fixture(f) for f in fixtures]
    header = ("fixture", "source", "measured", "expected / threshold", "result")
    rows = [
        (
            o.fixture.name,
            o.fixture.source,
            _measured(o),
            _target(o.fixture),
            "PASS" if o.passed else "FAIL",
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        stream.write(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    failed = sum(not o.passed for o in outcomes)
    stream.write(
        f"\n{len(outcomes) - failed}/{len(outcomes)} fixtures passed"
        + (f", {failed} FAILED\n" if failed else "\n")
    )
    return 1 if failed else 0
