"""A kit's spec: the public checks only, what the others are worth, read back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.kit.public_spec import public_toml, write_public_spec
from grader.spec import load_spec
from grader.spec.registry import available_specs, get_spec

ASSIGNMENTS = [*sorted(available_specs()), "cs231n-2021@2025", "ucla-c147-2022@2024"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_only_public_checks_and_the_rest_as_instructor_points(
    assignment: str, tmp_path: Path
) -> None:
    spec = get_spec(assignment)
    kit = load_spec(write_public_spec(spec, tmp_path)).for_offering(spec_offering(assignment))
    assert [c.id for c in kit.checks] == [c.id for c in spec.checks if c.visibility == "visible"]
    assert kit.final_accuracy == ()  # a kit cannot measure a trained model
    hidden = sum(c.points for c in spec.active_checks() if c.visibility != "visible")
    accuracy = sum(r.points for r in spec.final_accuracy)
    assert kit.instructor_points == hidden + accuracy
    assert kit.withheld_points() == kit.instructor_points == spec.kit_withheld_points()
    # Nothing else changes: the student's layout, the api, the tolerances.
    assert kit.student_modules == spec.student_modules and kit.api == spec.api
    assert kit.tolerances == spec.tolerances


def spec_offering(assignment: str) -> str | None:
    return assignment.partition("@")[2] or None


def test_no_hidden_check_input_is_written(tmp_path: Path) -> None:
    spec = get_spec("cs231n-2021")
    hidden = [c for c in spec.checks if c.visibility != "visible"]
    assert hidden
    text = write_public_spec(spec, tmp_path).read_text(encoding="utf-8")
    for check in hidden:
        assert check.id not in text
    assert all(c["id"] not in {h.id for h in hidden} for c in public_toml(spec)["checks"])
