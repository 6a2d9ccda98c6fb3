"""Finds a student's modules wherever they sit and rebuilds the course layout for import."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake import SKIP_DIRS


@dataclass(frozen=True)
class Discovery:
    """Where each wanted module was found."""

    found: dict[str, Path]
    """Logical name -> file chosen."""
    missing: list[str]
    """Logical names with no candidate."""
    ambiguous: dict[str, list[Path]] = field(default_factory=dict)
    """Logical name -> other candidates when more than one file had the name."""


def _python_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.py")
            if not p.is_symlink() and not any(part in SKIP_DIRS for part in p.relative_to(root).parts)]


def _suffix_match(path: Path, canonical: str) -> int:
    """How many trailing path components agree with the canonical path."""
    n = 0
    for a, b in zip(reversed(path.parts), reversed(Path(canonical).parts)):
        if a != b:
            break
        n += 1
    return n


def find_files(root: Path, wanted: Mapping[str, str]) -> Discovery:
    """Pick, for each logical module, the file whose path best matches the canonical one.

    Ties break by the longest matching path suffix, then the shallowest file, then name order.
    """
    files = _python_files(root)
    found, missing, ambiguous = {}, [], {}
    for logical, canonical in wanted.items():
        name = Path(canonical).name
        candidates = [p for p in files if p.name == name]
        if not candidates:
            missing.append(logical)
            continue
        candidates.sort(key=lambda p: (-_suffix_match(p.relative_to(root), canonical), len(p.relative_to(root).parts), str(p)))
        found[logical] = candidates[0]
        if len(candidates) > 1:
            ambiguous[logical] = candidates[1:]
    return Discovery(found, missing, ambiguous)


def package_dirs(root: Path) -> list[Path]:
    """Directories that hold Python files (candidate packages), shallowest first."""
    return sorted({p.parent for p in _python_files(root)}, key=lambda p: (len(p.parts), str(p)))


def stage_layout(discovery: Discovery, canonical: Mapping[str, str], dest: Path) -> Path:
    """Copy found modules to their canonical paths under ``dest``, with the package files beside them.

    Other ``.py`` files from each module's folder (students' helpers such as ``fast_layers.py``)
    are copied into the same canonical folder without overwriting; every package folder gets an
    ``__init__.py``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for logical, src in discovery.found.items():
        target = dest / canonical[logical]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    for logical, src in discovery.found.items():
        folder = (dest / canonical[logical]).parent
        for sibling in src.parent.glob("*.py"):
            if not sibling.is_symlink() and not (folder / sibling.name).exists():
                shutil.copyfile(sibling, folder / sibling.name)
    for rel in canonical.values():
        folder = (dest / rel).parent
        while folder != dest and dest in folder.parents:
            (folder / "__init__.py").touch(exist_ok=True)
            folder = folder.parent
    return dest
