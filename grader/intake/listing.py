"""Listing one input before anything is written: entries, skip rules, limits and budgets.

A zip is listed from its central directory and a folder with ``lstat`` (no symlink is followed),
so that how to split an input and how much each part may write are decided up front. Each entry
is classified (``file``, ``dir``, ``link`` or ``special``) and marked when a skip rule drops it; a
zip member with an absolute or ``..`` path refuses the whole listing.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "ARCHIVE_SUFFIX",
    "ROOT",
    "SKIP_DIRS",
    "Budget",
    "Entry",
    "ExtractLimits",
    "IntakeError",
    "OverBudget",
    "folder_entries",
    "human_size",
    "is_zip",
    "zip_entries",
]

SKIP_DIRS = frozenset(
    {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX", ".venv", "node_modules"}
)
"""Folders never taken in (caches, VCS data, environments); discovery skips them too."""
ARCHIVE_SUFFIX = ".zip"
ROOT = PurePosixPath(".")
"""The top of an input, as a listed path."""


@dataclass(frozen=True)
class ExtractLimits:
    """Limits applied while taking submissions in."""

    total_bytes: int = 200 * 1024**2
    """Uncompressed bytes in one submission."""
    members: int = 5000
    """Entries in one submission's archive or folder."""
    file_bytes: int = 50 * 1024**2
    """Uncompressed bytes of one file."""
    ratio: float = 200.0
    """Largest compression ratio of a member (zip bombs), once it exceeds ``ratio_floor`` bytes."""
    ratio_floor: int = 1024**2
    """Members smaller than this are not ratio-checked."""
    intake_bytes: int = 2 * 1024**3
    """Bytes one input (an archive with every inner archive, or a folder) may write in total."""
    intake_members: int = 200_000
    """Entries in one input, counting the outer archive and every inner one."""


class IntakeError(Exception):
    """A submission could not be taken in (message names the member and the rule)."""


class OverBudget(IntakeError):
    """A byte allowance ran out (raised by ``Budget``)."""


class Budget:
    """Bytes that may still be written; raises ``OverBudget`` with ``message`` when spent."""

    def __init__(self, limit: int, message: str) -> None:
        """Start with nothing spent of ``limit`` bytes."""
        self.limit, self.used, self.message = limit, 0, message

    def spend(self, n: int) -> None:
        """Count ``n`` more bytes as written.

        Raises:
            OverBudget: more than ``limit`` bytes have now been written.
        """
        self.used += n
        if self.used > self.limit:
            raise OverBudget(self.message)


def human_size(n: int) -> str:
    """``n`` bytes for a message: ``2 GiB``, ``200 MiB``, ``4 KiB`` or ``1025 bytes``."""
    if n >= 2**30 and n % 2**30 == 0:
        return f"{n // 2**30} GiB"
    if n >= 2**20:
        return f"{n // 2**20} MiB"
    return f"{n // 2**10} KiB" if n >= 2**10 and n % 2**10 == 0 else f"{n} bytes"


def is_zip(name: str) -> bool:
    """Whether a file name is an archive's (the suffix in any case)."""
    return name.lower().endswith(ARCHIVE_SUFFIX)


def _skipped(path: PurePosixPath) -> bool:
    """Whether a skip rule drops ``path`` (under a ``SKIP_DIRS`` folder, or a ``.pyc``)."""
    return any(part in SKIP_DIRS for part in path.parts) or path.suffix == ".pyc"


@dataclass(frozen=True)
class Entry:
    """One listed archive member or folder entry, relative to the input's root."""

    rel: PurePosixPath
    kind: str
    """``file``, ``dir``, ``link`` or ``special`` (device, fifo, socket)."""
    size: int = 0
    """Declared size (zip) or size on disk; what extracting it can write at most."""
    info: zipfile.ZipInfo | None = None
    problem: str | None = None
    """Why a zip member is refused."""
    skipped: bool = False
    """Counted but never extracted (caches, VCS data)."""


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's relative path.

    Raises:
        IntakeError: the path is absolute or leaves the extraction folder.
    """
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise IntakeError(f"refused zip member {info.filename!r}: absolute path")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise IntakeError(
            f"refused zip member {info.filename!r}: path escapes the submission folder"
        )
    return path


def zip_entries(data: zipfile.ZipFile) -> list[Entry]:
    """Every member, classified; a link or special member carries its refusal as ``problem``.

    Raises:
        IntakeError: a member has an absolute or ``..`` path.
    """
    entries = []
    for info in data.infolist():
        rel = _member_path(info)
        if rel == ROOT:
            continue
        mode = info.external_attr >> 16
        kind, problem = "file", None
        if stat.S_ISLNK(mode):
            kind = "link"
            problem = f"refused zip member {info.filename!r}: symbolic links are not allowed"
        # Many zip tools set no type bits at all (0): such members are plain files.
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            kind, problem = "special", f"refused zip member {info.filename!r}: not a regular file"
        elif info.is_dir() or stat.S_ISDIR(mode):
            kind = "dir"
        entries.append(Entry(rel, kind, info.file_size, info, problem, skipped=_skipped(rel)))
    return entries


def folder_entries(root: Path, limit: int) -> list[Entry]:
    """Every entry under ``root`` without following symlinks; skipped folders are not walked.

    Raises:
        IntakeError: the folder has more than ``limit`` entries (counting stops there).
    """
    entries: list[Entry] = []
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        with os.scandir(root / folder) as it:
            for item in it:
                if len(entries) >= limit:
                    raise IntakeError(f"the folder has more than {limit} entries")
                rel = folder / item.name
                if _skipped(rel):
                    kind = "dir" if item.is_dir(follow_symlinks=False) else "file"
                    entries.append(Entry(rel, kind, skipped=True))
                elif item.is_symlink():
                    entries.append(Entry(rel, "link", _link_size(root / rel)))
                elif item.is_dir(follow_symlinks=False):
                    entries.append(Entry(rel, "dir"))
                    stack.append(rel)
                elif item.is_file(follow_symlinks=False):
                    entries.append(Entry(rel, "file", item.stat(follow_symlinks=False).st_size))
                else:
                    entries.append(Entry(rel, "special"))
    return sorted(entries, key=lambda e: e.rel.parts)


def _link_size(path: Path) -> int:
    """What copying a link's target could write (planning only; the link is checked when copied)."""
    try:
        st = path.stat()
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0
