"""One model file against one spec's accuracy rule: what ``nngrader evaluate`` reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grader.accuracy.artifact import ArtifactError, load_npz
from grader.accuracy.data import Cifar
from grader.accuracy.evaluate import measure
from grader.accuracy.formula import grade
from grader.checks.oracle import Oracle
from grader.spec import FinalAccuracy

__all__ = ["Evaluation", "evaluate_file"]


@dataclass(frozen=True)
class Evaluation:
    """Accuracies are fractions in [0, 1]; ``error`` is None when the model was evaluated."""

    val_accuracy: float | None
    test_accuracy: float | None
    points: float
    max_points: float
    formula: str | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_file(path: Path, rule: FinalAccuracy, cifar: Cifar, oracle: Oracle) -> Evaluation:
    """Load ``path`` (the nngrader ``.npz`` format), measure it, grade it with ``rule``. A course
    ``.npy`` is a pickle: it is opened only in a sandbox, by ``nngrader grade``."""
    try:
        if path.suffix != ".npz":
            raise ArtifactError(
                f"{path.name}: only the nngrader .npz format is evaluated here; a course .npy "
                "is opened in the sandbox by `nngrader grade`"
            )
        model = load_npz(path)
    except (ArtifactError, OSError) as exc:
        return Evaluation(None, None, 0.0, rule.points, None, f"the model was rejected: {exc}")
    mean = cifar.mean if rule.subtract_mean else None
    val, test = (measure(model, s, mean, oracle) for s in (cifar.val, cifar.test))
    graded = val if rule.split == "val" else test
    result = grade(rule, graded.correct, graded.total)
    return Evaluation(
        val.fraction, test.fraction, float(result.points), rule.points, result.worked, None
    )
