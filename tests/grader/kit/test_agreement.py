"""The kit's answers agree with the reference on every bundled example of every course.

For each course, the public checks' answers are recorded on its correct example only, as
``nngrader kit`` records them; then every bundled example of the course (planted mistakes,
missing functions, a hang) is graded on the public checks with those answers, and must get the
statuses and points the full grader gives its public checks, and the same diagnoses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from grader import intake
from grader.kit.record import record_answers
from grader.kit.tables import TableOracle
from grader.pipeline import grade_submission
from grader.results import SubmissionResult
from grader.spec.registry import get_spec
from tests.bundled import CHECK_SECONDS, BundledResults, bundled

pytestmark = pytest.mark.slow


def kit_result(course: str, answers: Path, path: Path) -> SubmissionResult:
    spec = get_spec(course)
    with tempfile.TemporaryDirectory() as tmp:
        (submission,) = intake.collect([path], Path(tmp) / "intake", lms=False)
        return grade_submission(
            submission,
            spec=spec,
            specs=[spec],
            workdir=Path(tmp) / "work",
            isolation="process",
            limits={"check_seconds": CHECK_SECONDS},
            public_only=True,
            oracle=TableOracle(answers),
        )


@pytest.mark.parametrize("course", sorted(bundled()))
def test_kit_and_full_grader_agree_on_public_checks(
    course: str, tmp_path: Path, bundled_results: BundledResults
) -> None:
    examples = bundled()[course]
    correct = next(p for p in examples if p.name == "correct")
    oracle, _ = record_answers(get_spec(course), [correct])
    oracle.save(tmp_path)
    for path in examples:
        full = {c.check_id: c for c in bundled_results.result(f"{course}/{path.name}").checks}
        kit = kit_result(course, tmp_path, path)
        assert kit.checks, path
        for check in kit.checks:
            want = full[check.check_id]
            got = (check.status, check.score, check.diagnosis)
            assert got == (want.status, want.score, want.diagnosis), (path.name, check.check_id)
        hidden = {c for c, r in full.items() if r.visibility != "visible"}
        assert {c.check_id for c in kit.checks} == set(full) - hidden
