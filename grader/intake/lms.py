"""LMS exports: whether an input holds many students, who they are, and what each uploaded.

All of it is decided from the listing, before anything is written. An input is split when, after
unwrapping a single top-level folder that no LMS named, it holds two or more students (or one that
an LMS named), no ``.py`` file an LMS did not name and no course package name (``package_names``).
A student is every top-level entry named with one LMS identity (``lms_identity``: Moodle's folder
``Full Name_12345_assignsubmission_file_`` beside its ``..._onlinetext_``, or Canvas's flat files
``lastfirst_12345_67890_assignment1.zip``), or one folder or zip no LMS named.

A student's folder content goes to the top of their submission, an LMS's loose file under the name
it was uploaded with. A student who uploaded one zip and no Python file or notebook beside it
(Moodle's folder holding ``assignment1.zip``) is that zip: ``upload`` finds it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from assignments import spec_dir
from grader.intake.archives import Place, capped
from grader.intake.listing import ARCHIVE_SUFFIX, ROOT, Entry, is_zip
from grader.spec import Spec, load_spec

__all__ = [
    "CODE_SUFFIXES",
    "Names",
    "Student",
    "Tree",
    "base_name",
    "bundled_package_names",
    "lms_identity",
    "package_names",
    "plan",
    "split",
    "upload",
]

CODE_SUFFIXES = frozenset({".py", ".ipynb"})
"""Files a submission is graded on: beside them, a zip is data, not the submission."""
_MOODLE = re.compile(r"(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<file>.*)", re.DOTALL)
"""Moodle: ``Full Name_12345_assignsubmission_file_`` (a folder), or the same followed by the
file's name when the export has no folders."""
_CANVAS = re.compile(
    r"(?P<name>.+?)(?:_late)?_(?P<id>\d+)_\d+_(?P<file>.+)", re.DOTALL | re.IGNORECASE
)
"""Canvas: ``lastfirst[_late]_<user id>_<attachment id>_<file as uploaded>``."""
_NOT_A_NAME = frozenset({"", ".", ".."})


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


def _parse(name: str) -> tuple[str, str, str]:
    """(student, LMS id, file name as uploaded) of an export entry's name; (name, "", name)."""
    for pattern in (_MOODLE, _CANVAS):
        found = pattern.fullmatch(name)
        if found:
            return found["name"], found["id"], found["file"]
    return name, "", name


def lms_identity(name: str) -> tuple[str, str]:
    """(student's full name, LMS id) read from a submission's name; (name, "") for other names.

    An LMS export names each student's folder or file after the student and an id, and intake
    keeps that name: grades go back to the LMS by the id, and the full name is what a person
    reads. Moodle: ``Full Name_12345_assignsubmission_file_`` (or ``_onlinetext_``, or a file's
    name after it) gives ``("Full Name", "12345")``; Canvas: ``lastfirst_12345_67890_file`` and
    ``lastfirst_late_12345_67890_file`` give ``("lastfirst", "12345")``. A name may hold spaces,
    hyphens, apostrophes, underscores and any letters; the first LMS pattern in it counts.
    """
    student, lms_id, _ = _parse(name)
    return student, lms_id


def _named(path: PurePosixPath) -> bool:
    """Whether an LMS named this entry (``lms_identity`` finds an id)."""
    return bool(_parse(path.name)[1])


def _students(
    tree: Tree, entries: Sequence[PurePosixPath], packages: Collection[str]
) -> list[list[PurePosixPath]]:
    """The students among ``entries``: all those of one LMS identity together, else one folder,
    zip, link or device each (a link or device becomes its student's error)."""
    groups: dict[tuple[str, str], list[PurePosixPath]] = {}
    for path in entries:
        if path.name in packages:
            continue
        student, lms_id, _ = _parse(path.name)
        if lms_id:
            groups.setdefault((student, lms_id), []).append(path)
        elif tree.kind[path] != "file" or is_zip(path.name):
            groups.setdefault((path.as_posix(), ""), []).append(path)
    return list(groups.values())  # in the order of their first entry, which is sorted


def split(
    tree: Tree, packages: Collection[str], lms: bool | None
) -> tuple[PurePosixPath, list[list[PurePosixPath]]] | None:
    """(export root, each student's top-level entries) of an LMS export, else None.

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
    while (
        len(entries) == 1
        and tree.kind[entries[0]] == "dir"
        and entries[0].name not in packages
        and not _named(entries[0])  # a single-student export keeps its student's name
    ):
        root = entries[0]
        entries = tree.visible(root)
    students = _students(tree, entries, packages)
    found = [s for s in students if any(tree.kind[p] in ("dir", "file") for p in s)]
    # A student's own loose files can look like Canvas's: one student alone is an export only
    # when an LMS named their folder or zip.
    one_named = len(found) == 1 and any(_named(p) and tree.is_student(p) for p in found[0])
    if (
        (len(found) < 2 and not one_named)
        or any(tree.kind[p] == "file" and p.suffix == ".py" and not _named(p) for p in entries)
        or any(p.name in packages for p in entries)
    ):
        if not lms:
            return None
        root = ROOT  # forced: every student at the top
        students = _students(tree, tree.visible(ROOT), ())
        if not any(tree.kind[p] in ("dir", "file") for s in students for p in s):
            return None
    return root, students


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


@dataclass
class Student:
    """One student of an export, planned before anything of theirs is written."""

    name: str
    """The submission's base name: the lead entry's (a folder's or zip's, ``base_name``)."""
    origin: str
    members: list[PurePosixPath]
    """The export's top-level entries that are this student's."""
    folders: list[PurePosixPath] = field(default_factory=list)
    """The members that are folders: a link in them may lead anywhere inside them."""
    own: list[Entry] = field(default_factory=list)
    """The outer entries at or under ``members``."""
    places: dict[PurePosixPath, PurePosixPath] = field(default_factory=dict)
    """Where each of ``own`` goes in the submission."""
    head: Entry | None = None
    """The zip the student uploaded as the whole submission (``upload``), to be unpacked."""
    label: str = ""
    """How messages name ``head``: where it is in the submission (``assignment1.zip``)."""
    notes: list[str] = field(default_factory=list)
    """The files left out beside ``head``."""
    zip_path: Path | None = None
    """``head`` on disk, to be opened."""
    owned_zip: bool = False
    """``zip_path`` is our copy (deleted once extracted)."""
    inner: list[Entry] = field(default_factory=list)
    """The entries of ``head``."""
    error: str | None = None
    """Why this student cannot be taken in (set while planning or listing)."""
    demand: int = 0
    """Bytes the student's files would write (each file counted up to ``file_bytes``)."""
    count: int = 0
    """Entries of the student's files or uploaded zip."""

    def place(self, rel: PurePosixPath) -> PurePosixPath:
        """Where the listed entry ``rel`` goes in the submission."""
        return self.places[rel]


def plan(
    tree: Tree,
    root: PurePosixPath,
    students: Sequence[Sequence[PurePosixPath]],
    entries: Sequence[Entry],
    origin: str,
) -> list[Student]:
    """Attribute every entry to its student; a refused entry becomes that student's error.

    Args:
        tree: the input's listing.
        root: the export's root, as ``split`` found it.
        students: each student's top-level entries, as ``split`` found them.
        entries: every listed entry of the input.
        origin: the input's path, for each student's ``origin``.
    """
    planned: list[Student] = []
    owner: dict[PurePosixPath, Student] = {}
    for members in students:
        lead = next((p for p in members if tree.is_student(p)), members[0])
        student = Student(
            base_name(lead.name, tree.kind[lead] == "dir"),
            f"{origin}:{lead.name}",
            list(members),
            [p for p in members if tree.kind[p] == "dir"],
        )
        planned.append(student)
        owner.update(dict.fromkeys(members, student))
    depth = len(root.parts)
    for entry in entries:
        parts = entry.rel.parts
        if len(parts) > depth and parts[:depth] == root.parts:
            member = PurePosixPath(*parts[: depth + 1])
            found = owner.get(member)
            if found is not None:
                found.own.append(entry)
                found.places[entry.rel] = _place(entry.rel, member, tree.kind[member])
    for student in planned:
        _settle(student, tree, root)
    return planned


def _place(rel: PurePosixPath, member: PurePosixPath, kind: str) -> PurePosixPath:
    """A folder's entries go to the top, a file goes under the name it was uploaded with."""
    if kind == "dir":
        return rel.relative_to(member)
    uploaded = _parse(member.name)[2]
    return PurePosixPath(member.name if uploaded in _NOT_A_NAME else uploaded)


def _settle(student: Student, tree: Tree, root: PurePosixPath) -> None:
    """The student's error, or where their files go and whether they uploaded one zip."""
    for member in student.members:
        if tree.kind[member] == "link":
            student.error = f"{member.name} is a symbolic link (not followed)"
            return
        if tree.kind[member] == "special":
            student.error = f"{member.name} is not a regular file or folder"
            return
    student.error = next((e.problem for e in student.own if e.problem and not e.skipped), None)
    written = [student.places[e.rel] for e in student.own if e.kind != "dir" and not e.skipped]
    taken = set(written)
    if len(taken) < len(written) or any(p in taken for rel in written for p in rel.parents):
        # Two members' files meet (two folders of one student): each keeps its member's folder.
        student.places = {rel: rel.relative_to(root) for rel in student.places}
    student.head, student.notes = upload(student.own, student.place)
    if student.head is not None:
        student.label = str(student.place(student.head.rel))


def upload(entries: Iterable[Entry], place: Place) -> tuple[Entry | None, list[str]]:
    """The zip uploaded as a whole submission, and notes naming the files left out beside it.

    That is the only zip among the files when no Python file or notebook is beside it (beside
    those, a zip is data); hidden files (``.DS_Store``, macOS's ``._`` twins) do not count. A
    student's Moodle folder holding ``assignment1.zip`` (and perhaps a PDF) is such a zip.

    Args:
        entries: the listed entries of one student or input.
        place: where each entry would go in the submission.

    Returns:
        (the zip's entry, notes), or (None, []) when the files are the submission.
    """
    files = [
        e
        for e in entries
        if e.kind in ("file", "link")
        and not e.skipped
        and not any(part.startswith(".") for part in place(e.rel).parts)
    ]
    zips = [e for e in files if is_zip(e.rel.name)]
    code = any(e.rel.suffix in CODE_SUFFIXES for e in files)
    if code or len(zips) != 1 or zips[0].kind != "file":
        return None, []
    head = zips[0]
    left = [
        f"left out {place(e.rel)}: the uploaded {place(head.rel)} is the submission"
        for e in files
        if e is not head
    ]
    return head, capped(left)
