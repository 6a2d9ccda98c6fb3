"""Taking an export's planned students in, each within a fair share of what the input may write.

One input has one byte and entry budget (``ExtractLimits.intake_*``) for itself and everything in
it; its students share what is left of it max-min fairly, so that one student's oversized upload
fails that student only. Whatever stops one student (a zip that does not open, a refused member,
a share spent) becomes that student's ``Submission.error``; the others are taken in.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from grader.intake.archives import UNREADABLE, as_listed, extract, open_zip
from grader.intake.listing import Budget, ExtractLimits, IntakeError, human_size, zip_entries
from grader.intake.lms import Student
from grader.intake.submission import Submission, reason

__all__ = ["fair_shares", "share_note", "take_students"]

CopyFiles = Callable[[Student, Path, Budget], list[str]]
"""Writes a student's own files (not an uploaded zip's) within a budget, returning notes."""


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


def _measure(student: Student, limits: ExtractLimits) -> None:
    """Count the student's entries and the bytes they would write; an upload is listed here.

    A zip that does not open, or lists a refused member, becomes the student's error.
    """
    try:
        if student.zip_path is not None:
            with open_zip(student.zip_path, student.label) as data:
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
        student.error = reason(exc)
        return
    student.demand = sum(
        min(e.size, limits.file_bytes)
        for e in files
        if e.kind in ("file", "link") and not e.skipped
    )


def take_students(
    students: list[Student],
    stage: Path,
    limits: ExtractLimits,
    outer_count: int,
    outer_used: int,
    copy_files: CopyFiles,
) -> list[Submission]:
    """Take every planned student in, each within a fair share of what the input may still write.

    Args:
        students: the plan; ``zip_path`` is set for each student whose upload is one zip.
        stage: where each student's files go (``s<i>``).
        limits: the limits; ``intake_*`` are shared among the students.
        outer_count: entries of the input already counted against ``intake_members``.
        outer_used: bytes already written against ``intake_bytes`` (uploaded zips copied out).
        copy_files: writes the files of a student without an uploaded zip.
    """
    for student in students:
        if not student.error:
            _measure(student, limits)
    active = [s for s in students if not s.error]
    byte_shares = fair_shares(
        [s.demand for s in active], limits.intake_bytes - outer_used, limits.total_bytes
    )
    shares = dict(zip(map(id, active), byte_shares, strict=True))
    uploads = [s for s in active if s.zip_path is not None]
    member_shares = dict(
        zip(
            map(id, uploads),
            fair_shares(
                [s.count for s in uploads], limits.intake_members - outer_count, limits.members
            ),
            strict=True,
        )
    )
    taken = []
    for i, student in enumerate(students):
        if student.error:
            taken.append(Submission(student.name, None, student.origin, student.error))
            continue
        dest = stage / f"s{i}"
        share = shares[id(student)]
        budget = Budget(
            share,
            f"the submission expands to more than {human_size(share)}"
            + share_note(share, limits.total_bytes, limits.intake_bytes, len(active), human_size),
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
                            len(uploads),
                            "{} entries".format,
                        )
                        + ")"
                    )
                with open_zip(student.zip_path, student.label) as data:
                    notes = extract(data, student.inner, as_listed, dest, limits, budget)
                if student.owned_zip:
                    student.zip_path.unlink()
            else:
                notes = copy_files(student, dest, budget)
        except (IntakeError, OSError, *UNREADABLE) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            taken.append(Submission(student.name, None, student.origin, reason(exc)))
            continue
        taken.append(Submission(student.name, dest, student.origin, notes=(*student.notes, *notes)))
    return taken
