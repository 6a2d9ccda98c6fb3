"""Golden ``results.json`` and ``instructor.json`` of every bundled example: the output formats
and every message, pinned.

Timing fields are left out. ``pytest --update-goldens`` rewrites the files from this run; review
the diff before committing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bundled import BundledResults, bundled, strip_timing

GOLDENS = Path(__file__).resolve().parents[2] / "goldens" / "results"
INSTRUCTOR_GOLDENS = Path(__file__).resolve().parents[2] / "goldens" / "instructor"
NAMES = [f"{course}/{path.name}" for course, paths in bundled().items() for path in paths]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", NAMES)
def test_results_json_matches_its_golden(
    name: str, bundled_results: dict[str, dict[str, Any]], update_goldens: bool
) -> None:
    golden = GOLDENS / f"{name}.json"
    actual = strip_timing(bundled_results[name])
    if update_goldens:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert golden.is_file(), f"no golden for {name}: run pytest --update-goldens"
    assert actual == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_instructor_json_matches_its_golden(
    name: str, bundled_results: BundledResults, update_goldens: bool
) -> None:
    golden = INSTRUCTOR_GOLDENS / f"{name}.json"
    actual = strip_timing(bundled_results.instructor(name))
    if update_goldens:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert golden.is_file(), f"no golden for {name}: run pytest --update-goldens"
    assert actual == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("goldens", [GOLDENS, INSTRUCTOR_GOLDENS])
def test_every_golden_belongs_to_a_bundled_example(goldens: Path) -> None:
    """A golden left behind by a removed example would pin nothing."""
    stale = {str(p.relative_to(goldens).with_suffix("")) for p in goldens.rglob("*.json")}
    assert not stale - set(NAMES)
