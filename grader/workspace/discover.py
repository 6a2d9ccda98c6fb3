"""Finds a student's modules wherever they sit and rebuilds the course layout for import.

Only regular files count: symlinks, fifos and devices are never read, and folders are walked
without following links (``.git``, caches and virtualenvs are not walked at all), so a root that
did not come through ``grader.intake`` still cannot lead discovery out of the submission.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake import SKIP_DIRS

__all__ = [
    "Discovery",
    "copy_regular",
    "file_names",
    "find_files",
    "notebooks",
    "package_dirs",
    "regular_py",
]
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Discovery:
    """Where each wanted module was found."""

    found: dict[str, Path]
    """Logical name -> file chosen."""
    missing: list[str]
    """Logical names with no candidate."""
    ambiguous: dict[str, list[Path]] = field(default_factory=dict)
    """Logical name -> the other candidates when more than one file had the name (reported in
    the result's ``extra_data.alternatives``)."""


def regular_py(folder: Path) -> Iterator[Path]:
    """The ``.py`` regular files directly in ``folder`` (symlinks and special files excluded)."""
    with os.scandir(folder) as it:
        for item in it:
            if item.name.endswith(".py") and item.is_file(follow_symlinks=False):
                yield Path(item.path)


def _folders(root: Path) -> Iterator[Path]:
    """``root`` and the folders under it, without links and skipped folders."""
    for folder, dirnames, _ in os.walk(root, followlinks=False):
        # os.walk lists links to folders among dirnames but (followlinks=False) never enters them.
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        yield Path(folder)


def _python_files(root: Path) -> list[Path]:
    return [p for folder in _folders(root) for p in regular_py(folder)]


def file_names(root: Path) -> set[str]:
    """Names of the regular files anywhere in the submission (notebooks are detection evidence)."""
    names: set[str] = set()
    for folder in _folders(root):
        with os.scandir(folder) as it:
            names.update(i.name for i in it if i.is_file(follow_symlinks=False))
    return names


def notebooks(root: Path) -> list[Path]:
    """The submission's notebooks (regular ``.ipynb`` files; checkpoints skipped), by path."""
    found: list[Path] = []
    for folder in _folders(root):
        with os.scandir(folder) as it:
            found.extend(
                Path(i.path)
                for i in it
                if i.name.endswith(".ipynb") and i.is_file(follow_symlinks=False)
            )
    return sorted(found)


def copy_regular(src: Path, dest: Path) -> None:
    """Copy ``src`` only if it is (still) a regular file; never through a symlink."""
    with os.fdopen(os.open(src, _OPEN_FLAGS), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{src} is not a regular file")
        with open(dest, "wb") as out:
            shutil.copyfileobj(f, out)


def _suffix_match(path: Path, canonical: str) -> int:
    """How many trailing path components agree with the canonical path."""
    n = 0
    for a, b in zip(reversed(path.parts), reversed(Path(canonical).parts), strict=False):
        if a != b:
            break
        n += 1
    return n


def find_files(root: Path, wanted: Mapping[str, str]) -> Discovery:
    """Pick, for each logical module, the file whose path best matches the canonical one.

    Ties break by the longest matching path suffix, then the shallowest file, then name order.
    """
    files = _python_files(root)
    found: dict[str, Path] = {}
    missing: list[str] = []
    ambiguous: dict[str, list[Path]] = {}
    for logical, canonical in wanted.items():
        name = Path(canonical).name
        candidates = [p for p in files if p.name == name]
        if not candidates:
            missing.append(logical)
            continue
        candidates.sort(
            key=lambda p: (
                -_suffix_match(p.relative_to(root), canonical),
                len(p.relative_to(root).parts),
                str(p),
            )
        )
        found[logical] = candidates[0]
        if len(candidates) > 1:
            ambiguous[logical] = candidates[1:]
    return Discovery(found, missing, ambiguous)


def package_dirs(root: Path) -> list[Path]:
    """Directories that hold Python files (candidate packages), shallowest first."""
    return sorted({p.parent for p in _python_files(root)}, key=lambda p: (len(p.parts), str(p)))
