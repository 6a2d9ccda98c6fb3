"""LMS exports: whether an input holds many students, who they are, and their fair shares.

All of it is decided from the listing, before anything is written. An input is split when, after
unwrapping a single top-level folder, it holds two or more folders or zips, no ``.py`` file and no
course package name (``package_names``); then each folder or zip there is one student.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from assignments import spec_dir
from grader.intake.listing import ARCHIVE_SUFFIX, ROOT, Entry, is_zip
from grader.spec import Spec, load_spec

__all__ = [
    "Names",
    "Student",
    "Tree",
    "base_name",
    "bundled_package_names",
    "fair_shares",
    "package_names",
    "plan",
    "share_note",
    "split",
]


def package_names(specs: Iterable[Spec]) -> frozenset[str]:
    """Directory names that belong to a course layout (``[detect] packages`` and layout folders)."""
    names: set[str] = set()
    for spec in specs:
        names.update(spec.detect.get("packages", []))
        for rel in (*spec.student_modules.values(), *spec.given_modules, *spec.stand_ins):
            names.update(PurePosixPath(rel).parent.parts)
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def bundled_package_names() -> frozenset[str]:
    """``package_names`` of every bundled course spec."""
    return package_names(load_spec(p) for p in sorted(spec_dir().glob("*.toml")))


class Tree:
    """The folder structure of a listing, to decide how to split an input before writing."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        """Index the entries that are not skipped, with every folder that holds one."""
        self.kind: dict[PurePosixPath, str] = {}
        for entry in entries:
            if entry.skipped:
                continue
            if self.kind.get(entry.rel) != "dir":
                self.kind[entry.rel] = entry.kind
            for parent in list(entry.rel.parents)[:-1]:
                self.kind[parent] = "dir"
        self.children: dict[PurePosixPath, list[PurePosixPath]] = {}
        for path in self.kind:
            self.children.setdefault(path.parent, []).append(path)

    def visible(self, at: PurePosixPath) -> list[PurePosixPath]:
        """The entries directly in ``at``, sorted, without hidden ones."""
        return sorted(p for p in self.children.get(at, []) if not p.name.startswith("."))

    def is_student(self, path: PurePosixPath) -> bool:
        """Whether ``path`` can hold one student's submission (a folder or a zip)."""
        return self.kind[path] == "dir" or (self.kind[path] == "file" and is_zip(path.name))


def split(
    tree: Tree, packages: Collection[str], lms: bool | None
) -> tuple[PurePosixPath, list[PurePosixPath]] | None:
    """(export root, per-student entries) of an LMS export, else None.

    Links and devices beside the students are returned too, so that each gets its own error.

    Args:
        tree: the input's listing.
        packages: folder names of a course layout (never a student's folder).
        lms: force (True) or forbid (False) splitting; None decides from the listing.
    """
    if lms is False:
        return None
    root = ROOT
    entries = tree.visible(root)
    while len(entries) == 1 and tree.kind[entries[0]] == "dir" and entries[0].name not in packages:
        root = entries[0]
        entries = tree.visible(root)
    students = [p for p in entries if tree.is_student(p) and p.name not in packages]
    if (
        len(students) < 2
        or any(tree.kind[p] == "file" and p.suffix == ".py" for p in entries)
        or any(p.name in packages for p in entries)
    ):
        if not lms:
            return None
        root, entries = ROOT, tree.visible(ROOT)  # forced: every folder or zip at the top
        students = [p for p in entries if tree.is_student(p)]
        if not students:
            return None
    return root, sorted([*students, *(p for p in entries if tree.kind[p] in ("link", "special"))])


def base_name(name: str, is_dir: bool) -> str:
    """The ``<name>`` of the CLI contract: a folder's full name, a zip's name without ``.zip``."""
    if not is_dir and is_zip(name):
        name = name[: -len(ARCHIVE_SUFFIX)]
    return name or "submission"


class Names:
    """Unique submission names: ``alice``, ``alice-2``, ``alice-3``... (unique ignoring case)."""

    def __init__(self) -> None:
        """Start with no name taken."""
        self.used: set[str] = set()

    def __call__(self, base: str) -> str:
        """Take ``base``, or the first ``base-<n>`` not taken yet."""
        name, n = base, 1
        while name.casefold() in self.used:  # casefold: output folders may sit on a case-blind disk
            n += 1
            name = f"{base}-{n}"
        self.used.add(name.casefold())
        return name


def fair_shares(demands: Sequence[int], budget: int, cap: int) -> list[int]:
    """Max-min fair split of ``budget``: small demands are met, the others share the rest equally.

    Args:
        demands: what each part would use.
        budget: what all parts may use together (a negative budget gives nothing).
        cap: the most any one part may get.
    """
    shares = [0] * len(demands)
    left = max(budget, 0)
    for k, i in enumerate(sorted(range(len(demands)), key=demands.__getitem__)):
        shares[i] = min(demands[i], cap, left // (len(demands) - k))
        left -= shares[i]
    return shares


def share_note(share: int, limit: int, total: int, n: int, fmt: Callable[[int], str]) -> str:
    """Explains an allowance cut below the per-submission limit by the input's budget.

    Args:
        share: this submission's allowance.
        limit: the per-submission limit.
        total: the input's budget that was shared.
        n: how many submissions shared it.
        fmt: how an amount reads (``human_size``, or entries).
    """
    if share >= limit:
        return ""
    return (
        f"; {fmt(share)} is this submission's share of the {fmt(total)} allowed for one input "
        f"of {n} submissions"
    )


@dataclass
class Student:
    """One student of an export, planned before anything of theirs is written."""

    rel: PurePosixPath
    kind: str
    origin: str
    own: list[Entry] = field(default_factory=list)
    """The outer entries at or under ``rel``."""
    zip_path: Path | None = None
    """The inner archive, for a zip student."""
    owned_zip: bool = False
    """``zip_path`` is our copy (deleted once extracted)."""
    inner: list[Entry] = field(default_factory=list)
    """The inner archive's entries, for a zip student."""
    error: str | None = None
    """Why this student cannot be taken in (set while planning or listing)."""
    demand: int = 0
    """Bytes the student's files would write (each file counted up to ``file_bytes``)."""
    count: int = 0
    """Entries of the student's folder or inner archive."""


def plan(
    tree: Tree,
    root: PurePosixPath,
    students: Sequence[PurePosixPath],
    entries: Sequence[Entry],
    origin: str,
) -> list[Student]:
    """Attribute every entry to its student; a refused entry becomes that student's error.

    Args:
        tree: the input's listing.
        root: the export's root, as ``split`` found it.
        students: the per-student entries ``split`` found.
        entries: every listed entry of the input.
        origin: the input's path, for each student's ``origin``.
    """
    students_at = {rel: Student(rel, tree.kind[rel], f"{origin}:{rel.name}") for rel in students}
    depth = len(root.parts)
    for entry in entries:
        parts = entry.rel.parts
        if len(parts) > depth and parts[:depth] == root.parts:
            owner = students_at.get(PurePosixPath(*parts[: depth + 1]))
            if owner is not None:
                owner.own.append(entry)
    for student in students_at.values():
        if student.kind == "link":
            student.error = f"{student.rel.name} is a symbolic link (not followed)"
        elif student.kind == "special":
            student.error = f"{student.rel.name} is not a regular file or folder"
        else:
            student.error = next(
                (e.problem for e in student.own if e.problem and not e.skipped), None
            )
    return list(students_at.values())
