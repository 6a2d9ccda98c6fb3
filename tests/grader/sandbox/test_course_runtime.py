"""A course's declared runtime (a spec's ``[runtime] packages``) inside the sandbox.

UCLA C147 HW3's given ``nndl/__init__.py`` imports ``neural_net.py``, which imports
``matplotlib.pyplot`` (cited in ``assignments/ucla-c147-hw3.toml``): the built HW3 submission
(``tests/grader/workspace/builders.py``) needs matplotlib in the sandbox, in both modes, and gets
full marks; without the declaration every check is blocked; a declared package the machine lacks
stops the run as a setup error naming it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from grader import api, intake
from grader.errors import SandboxUnavailable
from grader.results import SubmissionResult
from grader.sandbox import available_modes
from tests.grader.planting import failures
from tests.grader.workspace import builders

pytest.importorskip("matplotlib", reason="the courses extra is not installed")
MODES = [
    pytest.param("process", marks=pytest.mark.sandbox),
    pytest.param(
        "bwrap",
        marks=[
            pytest.mark.sandbox,
            pytest.mark.skipif(available_modes()["bwrap"] is not None, reason="bwrap unusable"),
        ],
    ),
]


def graded(tmp_path: Path, sandbox: str, **changes: object) -> SubmissionResult:
    root = builders.c147_hw3(tmp_path / "hw3")
    (submission,) = intake.collect([root], tmp_path / "intake", lms=False)
    spec = replace(api.get_spec("ucla-c147-hw3"), **changes)  # type: ignore[arg-type]
    return api.grade_submission(
        submission, spec=spec, workdir=tmp_path / "work", sandbox=sandbox, public_only=True
    )


@pytest.mark.parametrize("sandbox", MODES)
def test_a_given_file_importing_matplotlib_costs_nothing(tmp_path: Path, sandbox: str) -> None:
    result = graded(tmp_path, sandbox)
    assert failures(result) == []
    assert result.score == result.max_score > 0


def test_without_the_declaration_the_package_does_not_import(tmp_path: Path) -> None:
    """The sandbox offers nothing undeclared: the same submission cannot import nndl."""
    result = graded(tmp_path, "process", runtime=())
    assert result.score == 0
    assert any("No module named 'matplotlib'" in note for note in result.notes), result.notes


def test_a_declared_package_that_is_not_installed_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="'no-such-course-package'"):
        graded(tmp_path, "process", runtime=("no-such-course-package",))
