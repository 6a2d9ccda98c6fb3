"""results.json holds only what Gradescope documents at the top and per test; ours is in
extra_data; every document conforms to the schema kept in the repo."""

from __future__ import annotations

import pytest

from grader.report.gradescope import to_gradescope
from grader.report.validate import validate
from tests.grader.report.test_instructor import rich_result

TOP_LEVEL = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
"""Gradescope's documented top-level keys (autograder_samples docs/specs.md)."""
PER_TEST = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}


def test_only_documented_keys_at_the_top_and_per_test() -> None:
    doc = to_gradescope(rich_result())
    assert set(doc) <= TOP_LEVEL
    assert all(set(test) <= PER_TEST for test in doc["tests"])
    ours = doc["extra_data"]
    assert ours["max_score"] == 3.0 and ours["submission"] == rich_result().name
    # The result's own extra, merged (its accuracy rule's check is visible: student_extra).
    assert ours["accuracy"] == rich_result().extra["accuracy"]
    validate("results", doc)


def test_the_schema_refuses_a_key_gradescope_does_not_document() -> None:
    doc = to_gradescope(rich_result())
    doc["max_score"] = 3.0
    with pytest.raises(ValueError, match="top level"):
        validate("results", doc)


def test_a_hidden_check_keeps_its_points_and_status_but_no_message() -> None:
    hidden = to_gradescope(rich_result())["tests"][1]
    assert hidden["visibility"] == "hidden" and hidden["status"] == "failed"
    assert hidden["max_score"] == 2.0 and hidden["output"] == ""
    assert "secret" not in str(hidden) and hidden["extra_data"]["comparisons"] == []
