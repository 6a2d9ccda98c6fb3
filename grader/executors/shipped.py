"""A taken-in submission as bytes, and its grading where the bytes land (a cluster's worker).

The parent's temporary folder, where intake made the clean copy, is not on the other machines
of a cluster: the copy travels packed (a gzip tar of its regular files and folders, names as
bytes, so names that are not UTF-8 survive), and the worker unpacks it into a temporary folder
of its own, grades it there with the same pipeline and sandbox, and removes the folder. What
comes back is the plain instructor.json document (``grader.executors.job``).

The bytes are the grading process's own (the clean copy), but they cross a network: unpacking
takes regular files and folders at relative paths only, whatever else the archive might hold.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.executors.job import Document, Settings, grade_one
from grader.intake import Submission

__all__ = ["Shipped", "grade_shipped", "pack", "ship", "unpack"]

_ENCODING, _ERRORS = "utf-8", "surrogateescape"
"""Names as bytes both ways: a name that is not UTF-8 travels unchanged."""


@dataclass(frozen=True)
class Shipped:
    """A ``Submission`` with its files packed (``files`` None: intake took none in)."""

    name: str
    origin: str
    files: bytes | None
    error: str | None = None
    notes: tuple[str, ...] = ()


def ship(submission: Submission) -> Shipped:
    """``submission`` ready to travel."""
    files = None if submission.root is None else pack(submission.root)
    return Shipped(submission.name, submission.origin, files, submission.error, submission.notes)


def pack(root: Path) -> bytes:
    """The folders and regular files under ``root`` as a gzip tar (owners and times dropped)."""
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT, encoding=_ENCODING, errors=_ERRORS
    ) as tar:
        for folder, dirs, names in os.walk(root):
            dirs.sort()
            for name in [*dirs, *sorted(names)]:
                path = Path(folder, name)
                if path.is_symlink() or not (path.is_dir() or path.is_file()):
                    continue
                info = tar.gettarinfo(str(path), path.relative_to(root).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if info.isfile():
                    with open(path, "rb") as file:
                        tar.addfile(info, file)
                else:
                    tar.addfile(info)
    return buffer.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    """Write what ``pack`` made under ``dest``: folders and regular files at relative paths,
    nothing else (a link, a device, ``..`` or an absolute path is skipped)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(
        fileobj=io.BytesIO(data), mode="r:gz", encoding=_ENCODING, errors=_ERRORS
    ) as tar:
        for member in tar:
            rel = PurePosixPath(member.name)
            if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                continue
            target = dest.joinpath(*rel.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                source = tar.extractfile(member)
                if source is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)


def grade_shipped(shipped: Shipped, settings: Settings) -> Document:
    """Grade ``shipped`` in a temporary folder of this process's own: its document.

    Laid out as ``grader.api.grade`` lays out its own (the copy under ``intake``, the grading
    under ``work``, which sandbox uids may search but never list), and removed after.
    """
    tmp = Path(tempfile.mkdtemp(prefix="nngrader-"))
    try:
        root = None
        if shipped.files is not None:
            root = tmp / "intake" / "submission"
            unpack(shipped.files, root)
        (tmp / "work").mkdir(mode=0o700)
        submission = Submission(shipped.name, root, shipped.origin, shipped.error, shipped.notes)
        return grade_one(submission, settings, tmp / "work" / "0")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
