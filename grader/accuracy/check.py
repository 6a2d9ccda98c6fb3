"""The accuracy stage: which model, its measured accuracies, one ``Outcome`` per rule.

Accuracy is measured, never taken from a printout. For each ``[final_accuracy]`` rule the model
comes from the first of the rule's ``sources`` the submission offers: ``npz`` (``model_file``
anywhere in it), ``course-npy`` (``course_files``, opened in the sandbox), ``notebook`` (the
model the executed notebook held, which the notebook stage hands over). It is evaluated on the
validation split and on the whole test split, which never enters the sandbox; the rule grades
its split with the exact formula (``grader.accuracy.formula``). A notebook's printed accuracy is
only compared with the measurement, and a validation accuracy more than ``GAP_FLAG`` points
above the test accuracy is flagged for the instructor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from grader.accuracy.artifact import ArtifactError, Model, load_npz
from grader.accuracy.data import Cifar
from grader.accuracy.evaluate import Measured, measure
from grader.accuracy.formula import grade, percent
from grader.checks.oracle import Oracle
from grader.results import Outcome
from grader.spec import Check, FinalAccuracy

__all__ = [
    "GAP_FLAG",
    "NO_DATA",
    "PRINTED_WARN",
    "Accuracy",
    "Found",
    "NotebookModel",
    "grade_rules",
    "rule_check",
]

NO_DATA = "accuracy not graded: no CIFAR-10 data (--data DIR)"
GAP_FLAG = Fraction(5)
"""Percentage points of validation over test accuracy that are flagged (the child saw val)."""
PRINTED_WARN = Fraction(1, 2)
"""Percentage points between the printed and the measured validation accuracy that warn."""


@dataclass(frozen=True)
class NotebookModel:
    """What the notebook stage hands over: the kernel's model (or why there is none) and the
    validation accuracy the notebook printed, a fraction in [0, 1] (None: it printed none)."""

    model: Model | None = None
    error: str | None = None
    printed_val: float | None = None


@dataclass(frozen=True)
class Found:
    """The model of one set of sources, measured (or why not)."""

    source: str | None
    model: Model | None = None
    error: str | None = None
    val: Measured | None = None
    test: Measured | None = None


@dataclass(frozen=True)
class Accuracy:
    """The stage's answer: outcomes and their checks (same order), and the report's data."""

    outcomes: tuple[Outcome, ...] = ()
    checks: tuple[Check, ...] = ()
    extra: dict[str, Any] | None = None
    """``extra_data.accuracy``; None when no rule was graded."""
    notes: tuple[str, ...] = field(default_factory=tuple)


def rule_check(rule: FinalAccuracy) -> Check:
    """The rule as a check, for scoring and the reports (no inputs: the model is its evidence)."""
    return Check(
        id=rule.id, part=rule.part, kind="final_accuracy", subject="FullyConnectedNet",
        points=rule.points, visibility=rule.visibility, seed=0, title=rule.title, shapes={},
        params={}, tolerance=None, award="points", value_check=None, depends=(),
    )  # fmt: skip


def grade_rules(
    rules: Sequence[FinalAccuracy],
    root: Path,
    cifar: Cifar | None,
    *,
    oracle: Oracle,
    open_course: Callable[[Path], Model],
    notebook: NotebookModel | None = None,
) -> Accuracy:
    """Grade every rule on the submission under ``root`` (None data: the rules are left out)."""
    if not rules:
        return Accuracy()
    if cifar is None:
        return Accuracy(notes=(NO_DATA,))
    found: dict[tuple[Any, ...], Found] = {}
    outcomes = []
    grades = []
    for rule in rules:
        key = _key(rule)
        if key not in found:
            found[key] = _find(rule, root, cifar, oracle, open_course, notebook)
        outcomes.append(_outcome(rule, found[key], notebook))
        grades.append(_worked(rule, found[key]))
    first = found[_key(rules[0])]
    extra = {
        "val": first.val.fraction if first.val else None,
        "test": first.test.fraction if first.test else None,
        "printed_val": notebook.printed_val if notebook else None,
        "source": first.source,
        "error": first.error,
        "flags": _flags(first),
        "grades": grades,
    }
    return Accuracy(tuple(outcomes), tuple(rule_check(r) for r in rules), extra)


def _key(rule: FinalAccuracy) -> tuple[Any, ...]:
    return (rule.sources, rule.model_file, rule.course_files, rule.subtract_mean)


def _find(
    rule: FinalAccuracy,
    root: Path,
    cifar: Cifar,
    oracle: Oracle,
    open_course: Callable[[Path], Model],
    notebook: NotebookModel | None,
) -> Found:
    """The first source the submission offers, loaded, validated and measured."""
    for source in rule.sources:
        try:
            if source == "npz" and (path := _file(root, [rule.model_file])):
                model = load_npz(path)
            elif source == "course-npy" and (path := _file(root, rule.course_files)):
                model = open_course(path)
            elif source == "notebook" and notebook and (notebook.model or notebook.error):
                if notebook.model is None:
                    return Found(source, error=notebook.error)
                model = notebook.model
            else:
                continue
        except ArtifactError as exc:
            return Found(source, error=f"the model was rejected: {exc}")
        mean = cifar.mean if rule.subtract_mean else None
        val, test = (measure(model, s, mean, oracle) for s in (cifar.val, cifar.test))
        return Found(source, model, None, val, test)
    return Found(None, error="no model to grade: " + _wanted(rule))


def _file(root: Path, names: Iterable[str]) -> Path | None:
    """The shallowest regular file named one of ``names`` under ``root`` (ties: path order)."""
    hits = [p for n in names for p in root.rglob(n) if p.is_file() and not p.is_symlink()]
    return min(hits, key=lambda p: (len(p.relative_to(root).parts), str(p)), default=None)


def _wanted(rule: FinalAccuracy) -> str:
    said = {
        "npz": f"{rule.model_file} (the nngrader model format, assignments/README.md)",
        "course-npy": " or ".join(rule.course_files) + " (the course's model.save file)",
        "notebook": "a model in the executed notebook (--execute)",
    }
    return "submit " + ", or ".join(said[s] for s in rule.sources)


def _outcome(rule: FinalAccuracy, found: Found, notebook: NotebookModel | None) -> Outcome:
    if found.val is None or found.test is None:
        return Outcome(
            check_id=rule.id,
            status="failed",
            message=f"{found.error}; 0 points",
            credit=Fraction(0),
        )
    graded = found.val if rule.split == "val" else found.test
    result = grade(rule, graded.correct, graded.total)
    lines = [
        f"validation accuracy {_pct(found.val)} and test accuracy {_pct(found.test)}, "
        f"measured by the grader (model from {found.source})",
    ]
    printed = notebook.printed_val if notebook else None
    if printed is not None:
        gap = Fraction(printed) * 100 - percent(found.val.correct, found.val.total)
        lines.append(f"the notebook printed validation accuracy {float(printed) * 100:.2f}%")
        if abs(gap) > PRINTED_WARN:
            lines.append(
                f"warning: the printed accuracy differs from the measured one by "
                f"{float(abs(gap)):.2f} percentage points; the measured one is graded"
            )
    lines.append(
        f"grade on the {'validation' if rule.split == 'val' else 'test'} split: {result.worked}"
    )
    return Outcome(
        check_id=rule.id,
        status="passed" if result.credit == 1 else "failed",
        message="\n".join(lines),
        credit=result.credit,
    )


def _worked(rule: FinalAccuracy, found: Found) -> dict[str, Any]:
    """One rule's grade as the reports show it: the formula worked out on the measured number."""
    measured = found.val if rule.split == "val" else found.test
    result = grade(rule, measured.correct, measured.total) if measured else None
    return {
        "check": rule.id,
        "split": rule.split,
        "worked": result.worked if result else None,
        "credit": float(result.credit) if result else 0.0,
        "points": float(result.points) if result else 0.0,
        "max_points": float(rule.points),
    }


def _pct(m: Measured) -> str:
    return f"{float(percent(m.correct, m.total)):.2f}% ({m.correct}/{m.total})"


def _flags(found: Found) -> list[str]:
    """What the instructor should look at: validation far above test (tuned on validation)."""
    if found.val is None or found.test is None:
        return []
    gap = percent(found.val.correct, found.val.total) - percent(
        found.test.correct, found.test.total
    )
    if gap > GAP_FLAG:
        return [f"validation accuracy is {float(gap):.2f} percentage points above test accuracy"]
    return []
