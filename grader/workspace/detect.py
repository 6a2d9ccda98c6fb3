"""Which course does a submission belong to? Matched on layout and signatures, never guessed.

Each spec's ``[detect]`` table lists the package directories the course uses (``packages``) and
source patterns that its files contain (``patterns``: logical module -> list of substrings, e.g.
the FullyConnectedNet signature's ``dropout_keep_ratio``) or must not contain (``absent``). A spec
scores one point per package present, one per student module found at its canonical path, and one
per pattern found. The best score wins only when it is unique and every required pattern matched;
otherwise the submission is reported as ambiguous or unrecognised, with the evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.spec import Spec
from grader.workspace import discover


@dataclass(frozen=True)
class Detection:
    spec: Spec | None
    evidence: str


def _score(root: Path, spec: Spec) -> tuple[int, list[str], bool]:
    """(score, evidence lines, all patterns matched) of one spec for a submission."""
    found = discover.find_files(root, spec.student_modules)
    evidence: list[str] = []
    score = 0
    packages = {p.name for p in discover.package_dirs(root)}
    for package in spec.detect.get("packages", []):
        if package in packages:
            score += 1
            evidence.append(f"package {package}/")
    for logical, path in found.found.items():
        if path.as_posix().endswith(spec.student_modules[logical]):
            score += 1
    all_matched = True
    for logical, patterns in spec.detect.get("patterns", {}).items():
        text = _source(found.found.get(logical))
        for pattern in patterns:
            if pattern in text:
                score += 1
                evidence.append(f"{logical} mentions {pattern!r}")
            else:
                all_matched = False
    for logical, patterns in spec.detect.get("absent", {}).items():
        text = _source(found.found.get(logical))
        all_matched = all_matched and not any(pattern in text for pattern in patterns)
    return score, evidence, all_matched


def _source(path: Path | None) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path else ""


def detect(root: Path, specs: Iterable[Spec]) -> Detection:
    """Pick the spec a submission fits best, or explain why none was picked."""
    scored = sorted(((*_score(root, s), s) for s in specs), key=lambda t: -t[0])
    candidates = [t for t in scored if t[2] and t[0] > 0]
    if not candidates:
        return Detection(None, "could not recognise the course from the files; pass --assignment")
    best = candidates[0]
    ties = [t for t in candidates if t[0] == best[0]]
    if len(ties) > 1:
        names = ", ".join(t[3].id for t in ties)
        return Detection(None, f"ambiguous: the files fit {names} equally well; pass --assignment")
    return Detection(best[3], f"detected {best[3].id} (score {best[0]}: {'; '.join(best[1])})")
