"""Turns what an instructor passes on the command line into clean submission folders.

A folder (or git checkout) is one submission. A ``.zip`` is one submission, unless it is an LMS
export: after unwrapping a single top-level folder, two or more entries that are folders or zips,
and no ``.py`` file at that level and no course package name (``cs231n``, ``nndl``...) among them
— then each folder or inner zip is one student's submission. Zips are extracted safely: absolute
paths, ``..``, symlinks and device entries are refused, and size, count and compression-ratio
limits are enforced while streaming (header sizes are not trusted). A submission that cannot be
taken in is still returned, with an ``error``, so it gets a score and a message.
"""

from __future__ import annotations

import io
import shutil
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SKIP_DIRS = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX", ".venv", "node_modules"})
PACKAGE_NAMES = frozenset({"cs231n", "nndl", "utils", "deeplearning", "daseCV", "classifiers"})


@dataclass(frozen=True)
class ExtractLimits:
    """Limits applied while extracting an archive."""

    total_bytes: int = 200 * 1024**2
    """Uncompressed bytes in one submission."""
    members: int = 5000
    """Entries in one archive."""
    file_bytes: int = 50 * 1024**2
    """Uncompressed bytes of one file."""
    ratio: float = 200.0
    """Largest compression ratio of a member (zip bombs), once it exceeds ``ratio_floor`` bytes."""
    ratio_floor: int = 1024**2
    """Members smaller than this are not ratio-checked."""


@dataclass(frozen=True)
class Submission:
    """One student's files, taken in."""

    name: str
    root: Path | None
    origin: str
    error: str | None = None


class IntakeError(Exception):
    """A submission could not be taken in (message names the member and the rule)."""


def _skipped(path: PurePosixPath) -> bool:
    return any(part in SKIP_DIRS for part in path.parts) or path.suffix == ".pyc"


def copy_folder(src: Path, dest: Path, limits: ExtractLimits) -> None:
    """Copy a folder without symlinks, caches, VCS data or oversized files."""
    total = 0
    for path in sorted(src.rglob("*")):
        rel = PurePosixPath(path.relative_to(src).as_posix())
        if _skipped(rel) or path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        if size > limits.file_bytes:
            continue
        total += size
        if total > limits.total_bytes:
            raise IntakeError(f"the folder holds more than {limits.total_bytes // 2**20} MiB")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _safe_name(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The member's relative path, None for directories; raises for anything unsafe."""
    name = info.filename.replace("\\", "/")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise IntakeError(f"refused zip member {info.filename!r}: symbolic links are not allowed")
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # many zip tools set no type bits
        raise IntakeError(f"refused zip member {info.filename!r}: not a regular file")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise IntakeError(f"refused zip member {info.filename!r}: absolute path")
    if ".." in path.parts:
        raise IntakeError(f"refused zip member {info.filename!r}: path escapes the submission folder")
    if name.endswith("/") or info.is_dir():
        return None
    return path


def extract_zip(data: zipfile.ZipFile, dest: Path, limits: ExtractLimits) -> None:
    """Extract every safe member into ``dest``; raise ``IntakeError`` on the first unsafe one."""
    infos = data.infolist()
    if len(infos) > limits.members:
        raise IntakeError(f"the archive has {len(infos)} entries (limit {limits.members})")
    total = 0
    for info in infos:
        rel = _safe_name(info)
        if rel is None or _skipped(rel):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with data.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 16):
                written += len(chunk)
                total += len(chunk)
                if written > limits.file_bytes:
                    raise IntakeError(f"refused zip member {info.filename!r}: larger than {limits.file_bytes // 2**20} MiB")
                if total > limits.total_bytes:
                    raise IntakeError(f"the archive expands to more than {limits.total_bytes // 2**20} MiB")
                if written > limits.ratio_floor and written > limits.ratio * max(info.compress_size, 1):
                    raise IntakeError(f"refused zip member {info.filename!r}: compression ratio above "
                                      f"{limits.ratio:g}:1 (zip bomb?)")
                out.write(chunk)


def _students(root: Path) -> list[Path] | None:
    """Per-student entries if ``root`` looks like an LMS export, else None."""
    entries = [p for p in root.iterdir() if p.name not in SKIP_DIRS and not p.name.startswith(".")]
    while len(entries) == 1 and entries[0].is_dir() and entries[0].name not in PACKAGE_NAMES:
        root = entries[0]
        entries = [p for p in root.iterdir() if p.name not in SKIP_DIRS and not p.name.startswith(".")]
    students = [p for p in entries if (p.is_dir() or p.suffix == ".zip") and p.name not in PACKAGE_NAMES]
    if len(students) < 2 or any(p.suffix == ".py" for p in entries) or any(p.name in PACKAGE_NAMES for p in entries):
        return None
    return sorted(students)


class _Names:
    """Unique submission names: ``alice``, ``alice-2``, ``alice-3``..."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, base: str) -> str:
        n = self.seen.get(base, 0) + 1
        self.seen[base] = n
        return base if n == 1 else f"{base}-{n}"


def collect(paths: Sequence[Path], workdir: Path, *, limits: ExtractLimits = ExtractLimits(),
            lms: bool | None = None) -> list[Submission]:
    """Take in every path; ``lms`` forces (True) or forbids (False) LMS-export splitting."""
    names = _Names()
    out: list[Submission] = []
    for path in paths:
        path = Path(path)
        staging = workdir / f"in{len(out)}-{len(names.seen)}"
        try:
            if path.is_dir():
                staging.mkdir(parents=True)
                copy_folder(path, staging, limits)
            elif path.suffix == ".zip" and path.is_file():
                staging.mkdir(parents=True)
                with zipfile.ZipFile(path) as data:
                    extract_zip(data, staging, limits)
            else:
                raise IntakeError(f"{path} is not a folder or a .zip file")
        except (IntakeError, zipfile.BadZipFile, OSError, EOFError) as exc:
            reason = str(exc) if isinstance(exc, IntakeError) else f"the zip file is broken ({exc})"
            out.append(Submission(names(path.stem), None, str(path), reason))
            continue
        students = _students(staging) if lms is not False else None
        if students is None and lms:
            students = sorted(p for p in staging.iterdir() if p.is_dir() or p.suffix == ".zip")
        if not students:
            out.append(_checked(Submission(names(path.stem), staging, str(path))))
            continue
        for student in students:
            origin = f"{path}:{student.name}"
            if student.is_dir():
                out.append(_checked(Submission(names(student.name), student, origin)))
                continue
            inner = student.with_suffix("")
            try:
                inner.mkdir()
                with zipfile.ZipFile(student) as data:
                    extract_zip(data, inner, limits)
                out.append(_checked(Submission(names(student.stem), inner, origin)))
            except (IntakeError, zipfile.BadZipFile, OSError, EOFError) as exc:
                reason = str(exc) if isinstance(exc, IntakeError) else f"the zip file is broken ({exc})"
                out.append(Submission(names(student.stem), None, origin, reason))
    return out


def _checked(sub: Submission) -> Submission:
    """A submission without a single Python file is an error, not an empty grade."""
    if sub.root is not None and not any(sub.root.rglob("*.py")):
        return Submission(sub.name, None, sub.origin, "no Python files found in the submission")
    return sub


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive of ``files`` (name -> content); used by tests and examples."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()
