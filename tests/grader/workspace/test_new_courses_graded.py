"""End to end: built submissions of the new specs and offerings, detected and graded full marks.

Each folder is a correct implementation under its starter's conventions (``builders.py``); it
is graded without ``--assignment``, so detection (course and offering) decides the checks. A
C147 winter 2023 student who keeps with probability p, as their starter says, loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from grader import api, intake
from grader.results import SubmissionResult
from tests.grader.planting import COURSES, failures
from tests.grader.workspace import builders

pytestmark = pytest.mark.slow

BUILT: dict[str, tuple[Callable[[Path], Path], str]] = {
    "c147-w2023": (builders.c147_2023, "ucla-c147-2022@2023"),
    "c147-w2024-keep-layer": (
        lambda d: builders.c147_2024(d, keep_layer=True),
        "ucla-c147-2022@2024",
    ),
    "c147-w2024-drop-layer": (
        lambda d: builders.c147_2024(d, keep_layer=False),
        "ucla-c147-2022@2024",
    ),
    "c147-hw3": (builders.c147_hw3, "ucla-c147-hw3"),
    "cs231n-2025-a1": (builders.cs231n_2025_a1, "cs231n-2025-a1"),
    "cs182-sp22": (builders.cs182_sp22, "cs182-sp22"),
}


def graded(root: Path, tmp: Path) -> SubmissionResult:
    (sub,) = intake.collect([root], tmp / "intake", lms=False)
    return api.grade_submission(
        sub, workdir=tmp / "work", sandbox="process", limits={"check_seconds": 20.0}
    )


@pytest.mark.parametrize("name", list(BUILT))
def test_built_submission_is_detected_and_scores_full_marks(name: str, tmp_path: Path) -> None:
    build, label = BUILT[name]
    result = graded(build(tmp_path / name), tmp_path)
    assert result.detection.startswith(f"detected {label} "), result.detection
    assert failures(result) == []
    assert result.score == result.max_score > 0
    spec = api.get_spec(label)
    assert {c.check_id for c in result.checks} == {c.id for c in spec.active_checks()}


def test_keep_layer_loses_the_dropout_points_under_the_2022_offering(tmp_path: Path) -> None:
    """The 2023 reading is only right for the 2023 starter: graded as 2022, it is a flip."""
    root = builders.c147_2023(tmp_path / "w23")
    (sub,) = intake.collect([root], tmp_path / "intake", lms=False)
    spec = api.get_spec("ucla-c147-2022")
    result = api.grade_submission(
        sub, spec=spec, workdir=tmp_path / "work", sandbox="process", limits={"check_seconds": 20.0}
    )
    lost = {c.check_id for c in result.checks if c.score < c.max_score}
    assert "dropout_forward" in lost


def test_undecided_offering_note_reaches_the_report(tmp_path: Path) -> None:
    """The bundled C147 example does not say which offering it is: graded as 2022, and said so."""
    result = graded(COURSES["ucla-c147-2022"], tmp_path)
    assert result.score == result.max_score > 0
    assert any("--assignment ucla-c147-2022@2023" in n for n in result.notes), result.notes
