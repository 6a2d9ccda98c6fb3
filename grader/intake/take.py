"""Taking every input in: ``collect``, one folder or zip at a time, whole or split into students.

Each input is listed, split or not (``lms``), then written under its own stage folder. An input
that holds nothing but one zip (a folder holding the class export, a student's zip of their
``assignment1.zip``) is taken in as that zip, once, within the input's budget. Whatever goes wrong
with one input or one student becomes that submission's ``error``: ``collect`` returns a
``Submission`` for everything it was given, so that each gets a score and a message.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader import sanitize
from grader.intake.archives import (
    UNREADABLE,
    as_listed,
    copy_entries,
    extract,
    open_zip,
    write_member,
)
from grader.intake.listing import (
    ROOT,
    Budget,
    Entry,
    ExtractLimits,
    IntakeError,
    OverBudget,
    folder_entries,
    human_size,
    is_zip,
    zip_entries,
)
from grader.intake.lms import (
    CODE_SUFFIXES,
    Names,
    Tree,
    base_name,
    bundled_package_names,
    plan,
    split,
    upload,
)
from grader.intake.students import take_students
from grader.intake.submission import Submission, reason

__all__ = ["Submission", "collect"]

# Frozen, so one shared instance is a safe default (as a call in the signature would be).
_DEFAULT_LIMITS = ExtractLimits()
_SHOWN_ZIPS = 3
_SHOWN_CHARS = 80
"""Zips left packed named in a message: the first few, each path cut at this length."""


@dataclass(frozen=True)
class _Input:
    """One input to take in, and what a submission taken from it whole is called."""

    path: Path
    label: str
    """How messages name the file: the input's name, or a lone zip's path in its input."""
    name: str
    origin: str
    notes: tuple[str, ...] = ()
    """Notes of a submission taken whole (the files left out beside a lone zip)."""
    nested: bool = False
    """A lone zip found in an input: opened without following a link, never unwrapped again."""


def _single_budget(limits: ExtractLimits, what: str) -> Budget:
    """The budget of an input taken whole (``what``: ``archive`` or ``folder``)."""
    limit = min(limits.total_bytes, limits.intake_bytes)
    return Budget(limit, f"the {what} expands to more than {human_size(limit)}")


def _lone(src: _Input, entries: Sequence[Entry]) -> tuple[Entry, list[str]] | None:
    """The zip that is all an input holds (``lms.upload``), with notes on what is left out.

    None for a lone zip's own content (one level is unwrapped) and when a member is refused:
    taken whole, the input is refused with that member's message.
    """
    if src.nested or any(e.problem and not e.skipped for e in entries):
        return None
    head, notes = upload(entries, as_listed)
    return None if head is None else (head, notes)


def _within(src: _Input, path: Path, head: Entry, notes: list[str]) -> _Input:
    """The lone zip ``head`` of ``src`` (found at ``path``), as an input of its own."""
    return _Input(path, str(head.rel), src.name, f"{src.origin}:{head.rel}", tuple(notes), True)


def _left(limits: ExtractLimits, count: int, used: int) -> ExtractLimits:
    """``limits`` with what an input already counted and wrote taken off its budget."""
    return replace(
        limits,
        intake_bytes=max(limits.intake_bytes - used, 0),
        intake_members=max(limits.intake_members - count, 0),
    )


def _take_zip(
    src: _Input, stage: Path, limits: ExtractLimits, packages: Collection[str], lms: bool | None
) -> list[Submission]:
    """Take one zip in: whole, as the lone zip it holds, or split into its students.

    See ``collect`` for the arguments.

    Raises:
        IntakeError: the archive as a whole is refused (a batch error, not one student's).
    """
    with open_zip(src.path, src.label, follow=not src.nested) as outer:
        count = len(outer.infolist())
        if count > limits.intake_members:
            raise IntakeError(f"the archive has {count} entries (limit {limits.intake_members})")
        entries = zip_entries(outer)
        tree = Tree(entries)
        found = split(tree, packages, lms)
        # Uploaded zips are written out first. Together they are the outer archive's own content,
        # so running out of budget here means the input itself is too large: a batch error.
        written = Budget(
            limits.intake_bytes,
            f"the archive expands to more than {human_size(limits.intake_bytes)} "
            "(the limit for one input, inner archives included)",
        )
        if found is None:
            lone = _lone(src, entries)
            if lone is not None and lone[0].info is not None:
                inner = stage / "lone.zip"
                write_member(outer, lone[0].info, inner, limits, written)
                try:
                    return _take_zip(
                        _within(src, inner, *lone),
                        stage / "lone",
                        _left(limits, count, written.used),
                        packages,
                        lms,
                    )
                finally:
                    inner.unlink()  # our copy, taken in or refused
            if count > limits.members:
                raise IntakeError(f"the archive has {count} entries (limit {limits.members})")
            dest = stage / "submission"
            extract(outer, entries, as_listed, dest, limits, _single_budget(limits, "archive"))
            return [Submission(src.name, dest, src.origin, notes=src.notes)]
        students = plan(tree, *found, entries, src.origin)
        for i, student in enumerate(students):
            if student.error or student.head is None or student.head.info is None:
                continue
            student.zip_path, student.owned_zip = stage / "zips" / f"{i}.zip", True
            try:
                write_member(outer, student.head.info, student.zip_path, limits, written)
            except OverBudget:
                raise
            except (IntakeError, OSError, *UNREADABLE) as exc:
                student.error = reason(exc)
        return take_students(
            students,
            stage,
            limits,
            count,
            written.used,
            lambda s, dest, budget: extract(outer, s.own, s.place, dest, limits, budget),
        )


def _take_folder(
    src: _Input, stage: Path, limits: ExtractLimits, packages: Collection[str], lms: bool | None
) -> list[Submission]:
    """Take one folder in: whole, as the lone zip it holds, or split into its students.

    See ``collect`` for the arguments.

    Raises:
        IntakeError: the folder as a whole is refused (a batch error, not one student's).
    """
    entries = folder_entries(src.path, limits.intake_members)
    tree = Tree(entries)
    found = split(tree, packages, lms)
    if found is None:
        lone = _lone(src, entries)
        if lone is not None:
            # Read in place, opened without following a link.
            inner = _within(src, src.path / lone[0].rel, *lone)
            return _take_zip(inner, stage, _left(limits, len(entries), 0), packages, lms)
        if len(entries) > limits.members:
            raise IntakeError(f"the folder has {len(entries)} entries (limit {limits.members})")
        dest = stage / "submission"
        budget = _single_budget(limits, "folder")
        notes = copy_entries(src.path, entries, as_listed, [ROOT], dest, limits, budget)
        return [Submission(src.name, dest, src.origin, notes=(*src.notes, *notes))]
    students = plan(tree, *found, entries, src.origin)
    for student in students:
        if not student.error and student.head is not None:
            student.zip_path = src.path / student.head.rel  # read in place, links not followed
    return take_students(
        students,
        stage,
        limits,
        len(entries),
        0,
        lambda s, dest, budget: copy_entries(
            src.path, s.own, s.place, s.folders, dest, limits, budget
        ),
    )


def collect(
    paths: Sequence[Path],
    workdir: Path,
    *,
    limits: ExtractLimits = _DEFAULT_LIMITS,
    lms: bool | None = None,
    packages: Collection[str] | None = None,
) -> list[Submission]:
    """Take in every path.

    Args:
        paths: folders and ``.zip`` files, each one submission or an LMS export of many.
        workdir: where the clean copies are made (created if missing).
        limits: size and count limits; ``intake_*`` apply to each path with all it holds.
        lms: force (True) or forbid (False) LMS-export splitting; None decides from the files.
        packages: folder names that mark one course layout (never a student's folder); default
            ``bundled_package_names()``.

    Returns:
        One submission per student found, in input order; one that could not be taken in has
        ``root`` None and an ``error``.
    """
    packages = bundled_package_names() if packages is None else frozenset(packages)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    names = Names()
    out: list[Submission] = []
    for path in map(Path, paths):
        stage = Path(tempfile.mkdtemp(prefix="in", dir=workdir))
        kind = _kind(path)
        shown = (path if path.name not in ("", ".", "..") else path.resolve()).name
        src = _Input(path, shown, base_name(shown, kind == "dir"), str(path))
        try:
            if kind == "dir":
                taken = _take_folder(src, stage, limits, packages, lms)
            elif kind == "file" and is_zip(path.name):
                taken = _take_zip(src, stage, limits, packages, lms)
            else:
                raise IntakeError(f"{path} is not a folder or a .zip file")
        except (IntakeError, OSError, *UNREADABLE) as exc:
            shutil.rmtree(stage, ignore_errors=True)
            taken = [Submission(src.name, None, src.origin, reason(exc))]
        out.extend(_clean(_checked(replace(t, name=names(t.name)))) for t in taken)
    return out


def _kind(path: Path) -> str:
    """``dir``, ``file`` or ``other`` (missing, unreadable, a name too long to look up)."""
    try:
        return "dir" if path.is_dir() else "file" if path.is_file() else "other"
    except OSError:  # is_dir raises for ENAMETOOLONG and EACCES instead of answering False
        return "other"


def _clean(sub: Submission) -> Submission:
    """Messages that quote a student's file name, made safe to print and serialise.

    Intake's errors and notes name members and folders as the student named them: control
    characters and bytes that are not UTF-8 in them are escaped here, where they arrive
    (``grader.sanitize.text``). The name itself stays as found; its views are made where it is
    shown (``grader.report.names``).
    """
    return replace(
        sub,
        error=None if sub.error is None else sanitize.text(sub.error),
        notes=tuple(map(sanitize.text, sub.notes)),
    )


def _checked(sub: Submission) -> Submission:
    """A submission without a single Python file or notebook is an error, not an empty grade.

    Notebooks alone are graded on what they hold (the report names the missing course files).
    Zips left packed are named: several uploaded, or one inside an uploaded zip, none is chosen.
    """
    if sub.root is None or any(
        p.suffix in CODE_SUFFIXES for p in sub.root.rglob("*") if p.is_file()
    ):
        return sub
    error = "no Python files or notebooks found in the submission"
    zips = sorted(
        p.relative_to(sub.root).as_posix()
        for p in sub.root.rglob("*")
        if p.is_file() and is_zip(p.name)
    )
    if zips:
        cut = [z if len(z) <= _SHOWN_CHARS else z[: _SHOWN_CHARS - 3] + "..." for z in zips]
        shown = ", ".join(cut[:_SHOWN_ZIPS]) + (", ..." if len(zips) > _SHOWN_ZIPS else "")
        error += (
            f"; it holds {len(zips)} zip file{'s' if len(zips) > 1 else ''} left packed "
            f"({shown}): a zip is unpacked only when it is the one zip uploaded, with no Python "
            "file or notebook beside it, and not when it is inside an uploaded zip"
        )
    return Submission(sub.name, None, sub.origin, error, sub.notes)
