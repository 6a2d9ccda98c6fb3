"""Which course (and offering) does a submission belong to? Read from its files, never guessed.

A spec is a candidate only when the submission could be that homework:

* its graded functions and classes fit (``grader.workspace.fit``: read with ``ast``; one that is
  missing from a module the submission has, or whose signature the checks cannot call, means
  another homework's file — HW3's ``layers.py`` has no ``batchnorm_forward``);
* every ``[detect] patterns`` sign is in its module and no ``absent`` sign is (signs that tell
  apart starters with the same functions: CS231n A1's ``class TwoLayerNet`` beside the A2 net).

Candidates score one point per ``packages`` directory present, per student module at its
canonical path, per pattern found and per ``files`` name present (notebooks). The best score wins
when it is unique; otherwise, or when no spec is a candidate, the submission is refused with the
evidence (each spec's reasons), so that it is never graded against the nearest course. The
winner's offering is then read from the starter's text (``grader.workspace.offering``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.spec import Spec
from grader.workspace import discover
from grader.workspace.fit import Fit, fit
from grader.workspace.offering import choose
from grader.workspace.signatures import ModuleFacts

__all__ = ["Detection", "detect"]

MAX_REASONS = 6
"""Specs whose reasons a refusal lists (those sharing most with the files first)."""


@dataclass(frozen=True)
class Detection:
    """The detect stage's answer."""

    spec: Spec | None
    """The spec (with the detected offering applied), or None: ``evidence`` says why."""
    evidence: str
    """What decided, or why nothing fits."""
    notes: tuple[str, ...] = ()
    """For the report: e.g. the offering could not be read from the starter."""


@dataclass(frozen=True)
class _Judged:
    spec: Spec
    score: int
    evidence: list[str]
    reasons: list[str]
    """Why it is not a candidate (empty: it is)."""
    fit: Fit


def _source(path: Path | None) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path else ""


def _judge(root: Path, spec: Spec, names: set[str], cache: dict[Path, ModuleFacts]) -> _Judged:
    found = discover.find_files(root, spec.student_modules).found
    evidence: list[str] = []
    reasons: list[str] = []
    score = 0
    packages = {p.name for p in discover.package_dirs(root)}
    for package in spec.detect.get("packages", []):
        if package in packages:
            score += 1
            evidence.append(f"package {package}/")
    for logical, path in found.items():
        if path.as_posix().endswith(spec.student_modules[logical]):
            score += 1
    for name in spec.detect.get("files", []):
        if name in names:
            score += 1
            evidence.append(f"file {name}")
    for logical, patterns in spec.detect.get("patterns", {}).items():
        text = _source(found.get(logical))
        for pattern in patterns:
            if pattern in text:
                score += 1
                evidence.append(f"{logical} mentions {pattern!r}")
            else:
                reasons.append(f"{logical} lacks {pattern!r}")
    for logical, patterns in spec.detect.get("absent", {}).items():
        text = _source(found.get(logical))
        reasons.extend(f"{logical} has {p!r}" for p in patterns if p in text)
    fitted = fit(spec, found, cache)
    if fitted.refuted:
        reasons = fitted.reasons() + reasons
    else:
        evidence.append(f"{fitted.found} graded functions and classes found, signatures fit")
    return _Judged(spec, score, evidence, reasons, fitted)


def _refusal(judged: list[_Judged]) -> str:
    """Why no spec fits: the reasons of the specs that share most with the files."""
    near = sorted(judged, key=lambda j: (-j.score, -j.fit.found, j.spec.id))[:MAX_REASONS]
    parts = [f"{j.spec.id}: {', '.join(j.reasons)}" for j in near if j.score or j.fit.found]
    if not parts:
        return "no course recognised: none of the specs' modules is in the files"
    return (
        "no course spec fits these files, so they were not graded (pass --assignment to grade "
        "them against one anyway): " + "; ".join(parts)
    )


def detect(root: Path, specs: Iterable[Spec]) -> Detection:
    """Pick the spec (and offering) a submission fits, or explain why none was picked."""
    cache: dict[Path, ModuleFacts] = {}
    names = discover.file_names(root)
    judged = [_judge(root, s, names, cache) for s in specs]
    candidates = sorted((j for j in judged if not j.reasons), key=lambda j: -j.score)
    if not candidates:
        return Detection(None, _refusal(judged))
    best = candidates[0]
    ties = [j for j in candidates if j.score == best.score]
    if len(ties) > 1:
        names_ = ", ".join(j.spec.id for j in ties)
        return Detection(
            None,
            f"ambiguous: the files fit {names_} equally well; pass --assignment "
            f"(evidence: {'; '.join(best.evidence)})",
        )
    files = discover.find_files(root, best.spec.student_modules).found
    choice = choose(best.spec, files, _source)
    spec = best.spec.for_offering(choice.offering)
    label = best.spec.id + (f"@{choice.offering}" if choice.offering else "")
    evidence = "; ".join([*best.evidence, *([choice.evidence] if choice.evidence else [])])
    notes = (choice.note,) if choice.note else ()
    return Detection(spec, f"detected {label} (score {best.score}: {evidence})", notes)
