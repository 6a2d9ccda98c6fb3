"""Writing listed files out safely: zip extraction and folder copies that never follow a link.

Zip members are written in chunks with the size, compression-ratio and budget limits checked on
the bytes actually written (declared sizes can lie). Folder files are opened with ``O_NOFOLLOW``
and ``O_NONBLOCK``; a symlink is copied as the file it names only when that file is inside the
submission, and every skipped entry becomes a note. Where a listed entry is written is the
caller's ``place`` (an LMS student's files sit at the top of their submission). A zip that does
not open says so with its name, and so does one cut short: a truncated export can end inside a
student's stored zip, whose directory would otherwise be read as the export's.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from grader.intake.listing import Budget, Entry, ExtractLimits, IntakeError, human_size

__all__ = [
    "MAX_NOTES",
    "UNREADABLE",
    "Place",
    "as_listed",
    "capped",
    "copy_entries",
    "extract",
    "open_zip",
    "write_member",
    "zip_bytes",
]

MAX_NOTES = 20
"""Notes kept per submission; the rest are counted in one last note."""
_CHUNK = 1 << 16
# O_NONBLOCK: opening a fifo that slipped past the listing must not hang intake.
_FOLLOW_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS = _FOLLOW_FLAGS | os.O_NOFOLLOW
_LOCAL_HEADER = b"PK\x03\x04"
"""How a zip member's data starts (and so does every zip written by a zip tool)."""
Place = Callable[[PurePosixPath], PurePosixPath]
"""Where a listed entry is written, relative to the submission's folder."""
UNREADABLE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    NotImplementedError,  # an unsupported compression method
    RuntimeError,  # an encrypted member
    ValueError,
)
"""What reading a broken or unsupported zip raises."""


def as_listed(rel: PurePosixPath) -> PurePosixPath:
    """The ``Place`` of an input taken whole: every entry where the listing has it."""
    return rel


def capped(notes: list[str]) -> list[str]:
    """At most ``MAX_NOTES`` notes, and one counting the rest."""
    if len(notes) <= MAX_NOTES:
        return notes
    return [*notes[:MAX_NOTES], f"... and {len(notes) - MAX_NOTES} more skipped entries"]


@contextlib.contextmanager
def open_zip(path: Path, label: str, *, follow: bool = False) -> Iterator[zipfile.ZipFile]:
    """Open an archive without following a symlink in its place (unless ``follow``).

    Args:
        path: the archive.
        label: how messages name it (the name it has in the input, not our copy's).
        follow: the instructor's own path: a symlink there is theirs to follow.

    Raises:
        IntakeError: ``path`` cannot be read, is not a regular file, or is no whole zip.
    """
    try:
        raw = os.fdopen(os.open(path, _FOLLOW_FLAGS if follow else _OPEN_FLAGS), "rb")
    except OSError as exc:
        raise IntakeError(f"{label} could not be read ({exc.strerror})") from exc
    with raw:
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
            raise IntakeError(f"{label} is not a regular file")
        try:
            data = zipfile.ZipFile(raw)  # a ZipFile does not close a file object it was given
        except UNREADABLE as exc:
            raise IntakeError(
                f"{label} could not be opened: the zip file is broken or unsupported ({exc})"
            ) from exc
        with data:
            _check_whole(data, raw, label)
            yield data


def _check_whole(data: zipfile.ZipFile, raw: BinaryIO, label: str) -> None:
    """Refuse a zip whose directory lists nothing from its start, when its start is a member.

    Python reads bytes before the first listed member as a prefix (a self-extractor's stub). A
    zip that starts with a member of its own and lists none from there lost its directory: an
    export cut short ends inside a student's stored zip, whose directory was found instead.

    Raises:
        IntakeError: ``data`` is such a zip.
    """
    start = min((info.header_offset for info in data.infolist()), default=0)
    if start > 0:
        raw.seek(0)
        if raw.read(len(_LOCAL_HEADER)) == _LOCAL_HEADER:
            raise IntakeError(
                f"{label} could not be opened: the zip file is broken or unsupported (it is cut "
                "short: its directory is missing, and the one found belongs to a zip inside it)"
            )


def write_member(
    data: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    limits: ExtractLimits,
    budget: Budget,
) -> None:
    """Write one member to ``target``, checking the limits on every chunk written.

    Raises:
        IntakeError: the member is larger than ``limits.file_bytes`` or over ``limits.ratio``.
        OverBudget: ``budget`` ran out.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with data.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > limits.file_bytes:
                raise IntakeError(
                    f"refused zip member {info.filename!r}: "
                    f"larger than {human_size(limits.file_bytes)}"
                )
            budget.spend(len(chunk))
            if written > limits.ratio_floor and written > limits.ratio * max(info.compress_size, 1):
                raise IntakeError(
                    f"refused zip member {info.filename!r}: compression ratio above "
                    f"{limits.ratio:g}:1 (zip bomb?)"
                )
            out.write(chunk)


def extract(
    data: zipfile.ZipFile,
    entries: Sequence[Entry],
    place: Place,
    dest: Path,
    limits: ExtractLimits,
    budget: Budget,
) -> list[str]:
    """Extract ``entries`` into ``dest``, each at its ``place``.

    Returns:
        Notes on what was skipped (none: a zip's refusals are errors).

    Raises:
        IntakeError: an entry is refused (before anything is written) or breaks a limit.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if entry.problem and not entry.skipped:
            raise IntakeError(entry.problem)
    for entry in entries:
        if entry.kind == "file" and not entry.skipped and entry.info is not None:
            write_member(data, entry.info, dest / place(entry.rel), limits, budget)
    return []


def _copy_file(
    source: Path,
    target: Path,
    label: PurePosixPath,
    limits: ExtractLimits,
    budget: Budget,
    notes: list[str],
) -> None:
    """Copy one regular file, opened without following a symlink; anything else becomes a note.

    Raises:
        OverBudget: ``budget`` ran out.
    """
    try:
        fd = os.open(source, _OPEN_FLAGS)
    except OSError as exc:
        notes.append(f"skipped {label}: cannot be read ({exc.strerror})")
        return
    with os.fdopen(fd, "rb") as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode):
            notes.append(f"skipped {label}: not a regular file")
            return
        if st.st_size > limits.file_bytes:
            notes.append(f"skipped {label}: larger than {human_size(limits.file_bytes)}")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        left = st.st_size  # a file growing meanwhile is cut at the size that was planned for
        with open(target, "wb") as out:
            while left > 0 and (chunk := src.read(min(_CHUNK, left))):
                left -= len(chunk)
                budget.spend(len(chunk))
                out.write(chunk)


def _link_target(link: Path, roots: Sequence[Path]) -> tuple[Path | None, str]:
    """A symlink's resolved target when it is a regular file inside one of ``roots``, else why."""
    target = Path(os.path.realpath(link))
    if not any(target.is_relative_to(root) for root in roots):
        return None, "symbolic link leading outside the submission (not followed)"
    try:
        mode = target.stat().st_mode
    except OSError:
        return None, "broken symbolic link"
    if not stat.S_ISREG(mode):
        return None, "symbolic link to a folder or special file (not followed)"
    return target, ""


def copy_entries(
    src: Path,
    entries: Sequence[Entry],
    place: Place,
    inside: Sequence[PurePosixPath],
    dest: Path,
    limits: ExtractLimits,
    budget: Budget,
) -> list[str]:
    """Copy a folder's listed files into ``dest``, each at its ``place``.

    A symlink is copied as the file it names only when that file is inside the submission (one
    of the folders ``inside``, relative to ``src``): links to the reference, another student or
    ``/etc`` are never followed.

    Returns:
        Notes on what was skipped, at most ``MAX_NOTES`` and one counting the rest.

    Raises:
        OverBudget: ``budget`` ran out.
    """
    dest.mkdir(parents=True, exist_ok=True)
    roots = [(src / folder).resolve() for folder in inside]
    notes: list[str] = []
    for entry in entries:
        if entry.skipped or entry.kind == "dir":
            continue
        rel = place(entry.rel)
        source = src / entry.rel
        if entry.kind == "special":
            notes.append(f"skipped {rel}: not a regular file")
            continue
        if entry.kind == "link":
            target, why = _link_target(source, roots)
            if target is None:
                notes.append(f"skipped {rel}: {why}")
                continue
            source = target
        _copy_file(source, dest / rel, rel, limits, budget, notes)
    return capped(notes)


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive of ``files`` (name -> content); used by tests and examples."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()
