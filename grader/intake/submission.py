"""What intake hands on: one ``Submission`` per student, and the message of one that failed.

Every input and every student gives a ``Submission``, taken in or not, so that each gets a score
and a message; this module is what ``take`` (whole inputs) and ``students`` (an export's students)
both build them with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.intake.listing import IntakeError

__all__ = ["REASON_CHARS", "Submission", "reason"]

REASON_CHARS = 400
"""Longest error message: a file name in it can be 64 KiB long (a zip member's)."""


@dataclass(frozen=True)
class Submission:
    """One student's files, taken in."""

    name: str
    """Unique in one ``collect`` call (ignoring case): the folder's or zip's name (before
    ``collect`` makes it unique, the base name); an LMS student's keeps the LMS's name, from
    which ``grader.intake.lms_identity`` reads the student."""
    root: Path | None
    """The clean copy of the files; None when ``error`` says why there is none."""
    origin: str
    """Where it came from: the input's path, with ``:<entry>`` for a student of an export or a
    zip found alone in the input."""
    error: str | None = None
    """Why the submission could not be taken in (names the member and the rule)."""
    notes: tuple[str, ...] = ()
    """What intake skipped (symlinks leaving the submission, fifos, oversized files, files left
    out beside a student's uploaded zip)."""


def reason(exc: BaseException) -> str:
    """The error message of a submission that ``exc`` stopped (cut at ``REASON_CHARS``)."""
    if isinstance(exc, IntakeError):
        text = str(exc)
    elif isinstance(exc, OSError):
        text = f"could not be read or copied ({exc})"
    else:
        text = f"the zip file is broken or unsupported ({exc})"
    # The start of a long message names the file; the rest is more of its name.
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."
