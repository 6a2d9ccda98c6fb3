"""Taking every input in: ``collect``, one folder or zip at a time, whole or split into students.

Each input is listed, split or not (``lms``), then written under its own stage folder. Whatever
goes wrong with one input or one student becomes that submission's ``error``: ``collect`` returns
a ``Submission`` for everything it was given, so that each gets a score and a message.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader import sanitize
from grader.intake.archives import UNREADABLE, copy_entries, extract, open_zip, write_member
from grader.intake.listing import (
    ROOT,
    Budget,
    ExtractLimits,
    IntakeError,
    OverBudget,
    folder_entries,
    human_size,
    is_zip,
    zip_entries,
)
from grader.intake.lms import (
    Names,
    Student,
    Tree,
    base_name,
    bundled_package_names,
    fair_shares,
    plan,
    share_note,
    split,
)

__all__ = ["Submission", "collect"]

# Frozen, so one shared instance is a safe default (as a call in the signature would be).
_DEFAULT_LIMITS = ExtractLimits()
_REASON_CHARS = 400


@dataclass(frozen=True)
class Submission:
    """One student's files, taken in."""

    name: str
    """Unique in one ``collect`` call (ignoring case): the folder's or zip's name (before
    ``collect`` makes it unique, the base name)."""
    root: Path | None
    """The clean copy of the files; None when ``error`` says why there is none."""
    origin: str
    """Where it came from: the input's path, with ``:<entry>`` for a student of an export."""
    error: str | None = None
    """Why the submission could not be taken in (names the member and the rule)."""
    notes: tuple[str, ...] = ()
    """What intake skipped (symlinks leaving the submission, fifos, oversized files)."""


def _reason(exc: BaseException) -> str:
    """The error message of a submission that ``exc`` stopped (cut at ``_REASON_CHARS``)."""
    if isinstance(exc, IntakeError):
        reason = str(exc)
    elif isinstance(exc, OSError):
        reason = f"could not be read or copied ({exc})"
    else:
        reason = f"the zip file is broken or unsupported ({exc})"
    # A file name in the message can be 64 KiB long (a zip member's): the start names it.
    return reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 3] + "..."


def _take_students(
    students: list[Student],
    stage: Path,
    limits: ExtractLimits,
    outer_count: int,
    outer_used: int,
    copy_dir: Callable[[Student, Path, Budget], list[str]],
) -> list[Submission]:
    """Take every planned student in, each within a fair share of what the input may still write.

    Args:
        students: the plan; each student's ``zip_path`` is set for a zip student.
        stage: where each student's files go (``s<i>``).
        limits: the limits; ``intake_*`` are shared among the students.
        outer_count: entries of the input already counted against ``intake_members``.
        outer_used: bytes already written against ``intake_bytes`` (inner zips copied out).
        copy_dir: writes a folder student's files within a budget, returning notes.
    """
    for student in students:
        if student.error:
            continue
        try:
            if student.zip_path is not None:
                with open_zip(student.zip_path) as data:
                    student.count = len(data.infolist())
                    student.inner = zip_entries(data)
                files = student.inner
            else:
                student.count = len(student.own)
                if student.count > limits.members:
                    raise IntakeError(
                        f"the folder has {student.count} entries (limit {limits.members})"
                    )
                files = student.own
        except (IntakeError, OSError, *UNREADABLE) as exc:
            student.error = _reason(exc)
            continue
        student.demand = sum(
            min(e.size, limits.file_bytes)
            for e in files
            if e.kind in ("file", "link") and not e.skipped
        )
    active = [s for s in students if not s.error]
    n = len(active)
    byte_shares = fair_shares(
        [s.demand for s in active], limits.intake_bytes - outer_used, limits.total_bytes
    )
    inner = [s for s in active if s.zip_path is not None]
    member_shares = dict(
        zip(
            map(id, inner),
            fair_shares(
                [s.count for s in inner], limits.intake_members - outer_count, limits.members
            ),
            strict=True,
        )
    )
    shares = dict(zip(map(id, active), byte_shares, strict=True))
    taken = []
    for i, student in enumerate(students):
        base = base_name(student.rel.name, student.kind == "dir")
        if student.error:
            taken.append(Submission(base, None, student.origin, student.error))
            continue
        dest = stage / f"s{i}"
        share = shares[id(student)]
        budget = Budget(
            share,
            f"the submission expands to more than {human_size(share)}"
            + share_note(share, limits.total_bytes, limits.intake_bytes, n, human_size),
        )
        try:
            if student.zip_path is not None:
                members = member_shares[id(student)]
                if student.count > members:
                    raise IntakeError(
                        f"the archive has {student.count} entries (limit {members}"
                        + share_note(
                            members,
                            limits.members,
                            limits.intake_members,
                            len(inner),
                            "{} entries".format,
                        )
                        + ")"
                    )
                with open_zip(student.zip_path) as data:
                    notes = extract(data, student.inner, ROOT, dest, limits, budget)
                if student.owned_zip:
                    student.zip_path.unlink()
            else:
                notes = copy_dir(student, dest, budget)
        except (IntakeError, OSError, *UNREADABLE) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            taken.append(Submission(base, None, student.origin, _reason(exc)))
            continue
        taken.append(Submission(base, dest, student.origin, notes=tuple(notes)))
    return taken


def _single_budget(limits: ExtractLimits, what: str) -> Budget:
    """The budget of an input taken whole (``what``: ``archive`` or ``folder``)."""
    limit = min(limits.total_bytes, limits.intake_bytes)
    return Budget(limit, f"the {what} expands to more than {human_size(limit)}")


def _take_zip(
    path: Path, stage: Path, limits: ExtractLimits, packages: Collection[str], lms: bool | None
) -> list[Submission]:
    """Take one zip in: whole, or split into its students (see ``collect`` for the arguments).

    Raises:
        IntakeError: the archive as a whole is refused (a batch error, not one student's).
    """
    with zipfile.ZipFile(path) as outer:
        count = len(outer.infolist())
        if count > limits.intake_members:
            raise IntakeError(f"the archive has {count} entries (limit {limits.intake_members})")
        entries = zip_entries(outer)
        tree = Tree(entries)
        found = split(tree, packages, lms)
        if found is None:
            if count > limits.members:
                raise IntakeError(f"the archive has {count} entries (limit {limits.members})")
            dest = stage / "submission"
            extract(outer, entries, ROOT, dest, limits, _single_budget(limits, "archive"))
            return [Submission(base_name(path.name, False), dest, str(path))]
        students = plan(tree, *found, entries, str(path))
        # Inner archives are written out first. Together they are the outer archive's own content,
        # so running out of budget here means the export itself is too large: a batch error.
        written = Budget(
            limits.intake_bytes,
            f"the archive expands to more than {human_size(limits.intake_bytes)} "
            "(the limit for one input, inner archives included)",
        )
        for i, student in enumerate(students):
            head = next((e for e in student.own if e.rel == student.rel), None)
            if student.error or student.kind != "file" or head is None or head.info is None:
                continue
            student.zip_path, student.owned_zip = stage / "zips" / f"{i}.zip", True
            try:
                write_member(outer, head.info, student.zip_path, limits, written)
            except OverBudget:
                raise
            except (IntakeError, OSError, *UNREADABLE) as exc:
                student.error = _reason(exc)
        return _take_students(
            students,
            stage,
            limits,
            count,
            written.used,
            lambda s, dest, budget: extract(outer, s.own, s.rel, dest, limits, budget),
        )


def _take_folder(
    path: Path, stage: Path, limits: ExtractLimits, packages: Collection[str], lms: bool | None
) -> list[Submission]:
    """Take one folder in: whole, or split into its students (see ``collect`` for the arguments).

    Raises:
        IntakeError: the folder as a whole is refused (a batch error, not one student's).
    """
    entries = folder_entries(path, limits.intake_members)
    tree = Tree(entries)
    found = split(tree, packages, lms)
    name = (path if path.name not in ("", ".", "..") else path.resolve()).name
    if found is None:
        if len(entries) > limits.members:
            raise IntakeError(f"the folder has {len(entries)} entries (limit {limits.members})")
        dest = stage / "submission"
        notes = copy_entries(path, entries, ROOT, dest, limits, _single_budget(limits, "folder"))
        return [Submission(base_name(name, True), dest, str(path), notes=tuple(notes))]
    students = plan(tree, *found, entries, str(path))
    for student in students:
        if not student.error and student.kind == "file":
            student.zip_path = path / student.rel  # read in place, opened without following links
    return _take_students(
        students,
        stage,
        limits,
        len(entries),
        0,
        lambda s, dest, budget: copy_entries(path, s.own, s.rel, dest, limits, budget),
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
        try:
            if kind == "dir":
                taken = _take_folder(path, stage, limits, packages, lms)
            elif kind == "file" and is_zip(path.name):
                taken = _take_zip(path, stage, limits, packages, lms)
            else:
                raise IntakeError(f"{path} is not a folder or a .zip file")
        except (IntakeError, OSError, *UNREADABLE) as exc:
            shutil.rmtree(stage, ignore_errors=True)
            name = (path if path.name not in ("", ".", "..") else path.resolve()).name
            taken = [Submission(base_name(name, kind == "dir"), None, str(path), _reason(exc))]
        out.extend(_checked(_clean(replace(t, name=names(t.name)))) for t in taken)
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
    """
    if sub.root is not None and not any(
        p for pattern in ("*.py", "*.ipynb") for p in sub.root.rglob(pattern)
    ):
        return Submission(
            sub.name,
            None,
            sub.origin,
            "no Python files or notebooks found in the submission",
            sub.notes,
        )
    return sub
