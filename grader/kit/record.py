"""Record a kit's answers: grade a correct solution on the public checks through a recording
oracle, so that every question those checks ask is written down with the reference's answer.

The checks ask a kit's oracle only about inputs drawn from their seeds (it is not ``live``), and
they ask the questions that follow a failure (the known mistakes to name it, a valid variant to
accept) on every path, the correct one included (``grader.checks.context.generator_kept``): so a
correct solution asks everything any submission will. ``tests/grader/kit/test_agreement.py``
holds every bundled example of every course to that. The solution is graded in a plain child
process (``sandbox="process"``): it is the project's own, or the instructor's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from grader import intake
from grader.checks.oracle import LiveOracle
from grader.errors import GraderError
from grader.kit.tables import RecordingOracle
from grader.pipeline import grade_submission
from grader.results import SubmissionResult
from grader.spec import Spec

__all__ = ["record_answers"]


def record_answers(
    spec: Spec, examples: Sequence[Path]
) -> tuple[RecordingOracle, list[SubmissionResult]]:
    """Grade ``examples`` (the correct one first) on ``spec``'s public checks, recording.

    Returns:
        The oracle holding the record, and each example's result (for the build's own check
        that the correct example passes every public check).

    Raises:
        GraderError: an example could not be graded at all.
    """
    oracle = RecordingOracle(LiveOracle())
    results = []
    with tempfile.TemporaryDirectory(prefix="nngrader-kit-") as tmp:
        for i, example in enumerate(examples):
            (submission,) = intake.collect([example], Path(tmp) / f"intake{i}", lms=False)
            result = grade_submission(
                submission,
                spec=spec,
                specs=[spec],
                workdir=Path(tmp) / f"work{i}",
                isolation="process",
                public_only=True,
                oracle=oracle,
            )
            if result.error:
                raise GraderError(f"{example}: cannot be graded to record a kit: {result.error}")
            results.append(result)
    return oracle, results
