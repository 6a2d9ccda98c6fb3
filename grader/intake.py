"""Turns what an instructor passes on the command line into clean submission folders.

A folder (or git checkout) is one submission. A ``.zip`` is one submission, unless it is an LMS
export: after unwrapping a single top-level folder, two or more entries that are folders or zips,
no ``.py`` file at that level and no course package name among them (the package names come from
the course specs) — then each folder or inner zip is one student's submission. The same rule
splits a folder holding one folder or zip per student.

The split is decided from the listing (zip central directory, or ``lstat`` of the folder) before
anything is written. Zips are extracted safely: absolute paths and ``..`` are refused, so are
symlink and device members; size, count and compression-ratio limits are enforced on the bytes
actually written (declared sizes only plan the budget's shares). Folders are copied without
following a symlink out of the submission and without devices or fifos (each skip becomes a
note). One input — an archive with every inner archive, or a folder — also has a total budget
(``ExtractLimits.intake_bytes`` and ``intake_members``) that its students share fairly: small
submissions get what they need, large ones split the rest, so one student's oversized zip fails
that student only. A submission that cannot be taken in is still returned, with an ``error``, so
it gets a score and a message. Nothing here runs git or anything else from a submission.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from assignments import spec_dir
from grader.spec import Spec, load_spec

__all__ = ["SKIP_DIRS", "ExtractLimits", "IntakeError", "Submission", "bundled_package_names", "collect",
           "package_names", "zip_bytes"]

SKIP_DIRS = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX", ".venv", "node_modules"})
ARCHIVE_SUFFIX = ".zip"
MAX_NOTES = 20
_ROOT = PurePosixPath(".")
_CHUNK = 1 << 16
# O_NONBLOCK: opening a fifo that slipped past the listing must not hang intake.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError,
               RuntimeError, ValueError)  # RuntimeError: encrypted member; NotImplementedError: method


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


@dataclass(frozen=True)
class Submission:
    """One student's files, taken in."""

    name: str
    root: Path | None
    origin: str
    error: str | None = None
    notes: tuple[str, ...] = ()
    """What intake skipped (symlinks leaving the submission, fifos, oversized files)."""


class IntakeError(Exception):
    """A submission could not be taken in (message names the member and the rule)."""


class _OverBudget(IntakeError):
    """A byte allowance ran out (raised by ``_Budget``)."""


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


def _skipped(path: PurePosixPath) -> bool:
    return any(part in SKIP_DIRS for part in path.parts) or path.suffix == ".pyc"


def _is_zip(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIX)


def _size(n: int) -> str:
    if n >= 2**30 and n % 2**30 == 0:
        return f"{n // 2**30} GiB"
    if n >= 2**20:
        return f"{n // 2**20} MiB"
    return f"{n // 2**10} KiB" if n >= 2**10 and n % 2**10 == 0 else f"{n} bytes"


@dataclass(frozen=True)
class _Entry:
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


class _Budget:
    """Bytes that may still be written; raises ``_OverBudget`` with ``message`` when spent."""

    def __init__(self, limit: int, message: str) -> None:
        self.limit, self.used, self.message = limit, 0, message

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise _OverBudget(self.message)


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's relative path; raises for paths that leave the extraction folder."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise IntakeError(f"refused zip member {info.filename!r}: absolute path")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise IntakeError(f"refused zip member {info.filename!r}: path escapes the submission folder")
    return path


def _zip_entries(data: zipfile.ZipFile) -> list[_Entry]:
    """Every member, classified; raises ``IntakeError`` for absolute and ``..`` paths."""
    entries = []
    for info in data.infolist():
        rel = _member_path(info)
        if rel == _ROOT:
            continue
        mode = info.external_attr >> 16
        kind, problem = "file", None
        if stat.S_ISLNK(mode):
            kind, problem = "link", f"refused zip member {info.filename!r}: symbolic links are not allowed"
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # many zip tools set no type bits
            kind, problem = "special", f"refused zip member {info.filename!r}: not a regular file"
        elif info.is_dir() or stat.S_ISDIR(mode):
            kind = "dir"
        entries.append(_Entry(rel, kind, info.file_size, info, problem, skipped=_skipped(rel)))
    return entries


def _folder_entries(root: Path, limit: int) -> list[_Entry]:
    """Every entry under ``root`` without following symlinks; skipped folders are not walked."""
    entries: list[_Entry] = []
    stack = [_ROOT]
    while stack:
        folder = stack.pop()
        with os.scandir(root / folder) as it:
            for item in it:
                if len(entries) >= limit:
                    raise IntakeError(f"the folder has more than {limit} entries")
                rel = folder / item.name
                if _skipped(rel):
                    kind = "dir" if item.is_dir(follow_symlinks=False) else "file"
                    entries.append(_Entry(rel, kind, skipped=True))
                elif item.is_symlink():
                    entries.append(_Entry(rel, "link", _link_size(root / rel)))
                elif item.is_dir(follow_symlinks=False):
                    entries.append(_Entry(rel, "dir"))
                    stack.append(rel)
                elif item.is_file(follow_symlinks=False):
                    entries.append(_Entry(rel, "file", item.stat(follow_symlinks=False).st_size))
                else:
                    entries.append(_Entry(rel, "special"))
    return sorted(entries, key=lambda e: e.rel.parts)


def _link_size(path: Path) -> int:
    """What copying a link's target could write (planning only; the link is checked when copied)."""
    try:
        st = path.stat()
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


class _Tree:
    """The folder structure of a listing, to decide how to split an input before writing."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
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
        return sorted(p for p in self.children.get(at, []) if not p.name.startswith("."))

    def is_student(self, path: PurePosixPath) -> bool:
        return self.kind[path] == "dir" or (self.kind[path] == "file" and _is_zip(path.name))


def _split(tree: _Tree, packages: Collection[str],
           lms: bool | None) -> tuple[PurePosixPath, list[PurePosixPath]] | None:
    """(export root, per-student entries) of an LMS export, else None.

    Links and devices beside the students are returned too, so that each gets its own error.
    """
    if lms is False:
        return None
    root = _ROOT
    entries = tree.visible(root)
    while len(entries) == 1 and tree.kind[entries[0]] == "dir" and entries[0].name not in packages:
        root = entries[0]
        entries = tree.visible(root)
    students = [p for p in entries if tree.is_student(p) and p.name not in packages]
    if (len(students) < 2 or any(tree.kind[p] == "file" and p.suffix == ".py" for p in entries)
            or any(p.name in packages for p in entries)):
        if not lms:
            return None
        root, entries = _ROOT, tree.visible(_ROOT)  # forced: every folder or zip at the top
        students = [p for p in entries if tree.is_student(p)]
        if not students:
            return None
    return root, sorted([*students, *(p for p in entries if tree.kind[p] in ("link", "special"))])


def _base_name(name: str, is_dir: bool) -> str:
    """The ``<name>`` of the CLI contract: a folder's full name, a zip's name without ``.zip``."""
    if not is_dir and _is_zip(name):
        name = name[: -len(ARCHIVE_SUFFIX)]
    return name or "submission"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, IntakeError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"could not be read or copied ({exc})"
    return f"the zip file is broken or unsupported ({exc})"


class _Names:
    """Unique submission names: ``alice``, ``alice-2``, ``alice-3``... (unique ignoring case)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, base: str) -> str:
        name, n = base, 1
        while name.casefold() in self.used:  # casefold: output folders may sit on a case-blind disk
            n += 1
            name = f"{base}-{n}"
        self.used.add(name.casefold())
        return name


def _fair_shares(demands: Sequence[int], budget: int, cap: int) -> list[int]:
    """Max-min fair split of ``budget``: small demands are met, the others share the rest equally."""
    shares = [0] * len(demands)
    left = max(budget, 0)
    for k, i in enumerate(sorted(range(len(demands)), key=demands.__getitem__)):
        shares[i] = min(demands[i], cap, left // (len(demands) - k))
        left -= shares[i]
    return shares


@contextlib.contextmanager
def _open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """Open an archive found inside an input without following a symlink in its place."""
    with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as raw:
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):
            raise IntakeError(f"{path.name} is not a regular file")
        with zipfile.ZipFile(raw) as data:  # a ZipFile does not close a file object it was given
            yield data


def _write_member(data: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: ExtractLimits,
                  budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with data.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > limits.file_bytes:
                raise IntakeError(f"refused zip member {info.filename!r}: "
                                  f"larger than {_size(limits.file_bytes)}")
            budget.spend(len(chunk))
            if written > limits.ratio_floor and written > limits.ratio * max(info.compress_size, 1):
                raise IntakeError(f"refused zip member {info.filename!r}: compression ratio above "
                                  f"{limits.ratio:g}:1 (zip bomb?)")
            out.write(chunk)


def _extract(data: zipfile.ZipFile, entries: Sequence[_Entry], strip: PurePosixPath, dest: Path,
             limits: ExtractLimits, budget: _Budget) -> list[str]:
    """Extract ``entries`` (paths made relative to ``strip``); raise on the first refused one."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if entry.problem and not entry.skipped:
            raise IntakeError(entry.problem)
    for entry in entries:
        if entry.kind == "file" and not entry.skipped and entry.info is not None:
            _write_member(data, entry.info, dest / entry.rel.relative_to(strip), limits, budget)
    return []


def _copy_file(source: Path, target: Path, label: PurePosixPath, limits: ExtractLimits, budget: _Budget,
               notes: list[str]) -> None:
    """Copy one regular file, opened without following a symlink; anything else becomes a note."""
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
            notes.append(f"skipped {label}: larger than {_size(limits.file_bytes)}")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        left = st.st_size  # a file growing meanwhile is cut at the size that was planned for
        with open(target, "wb") as out:
            while left > 0 and (chunk := src.read(min(_CHUNK, left))):
                left -= len(chunk)
                budget.spend(len(chunk))
                out.write(chunk)


def _link_target(link: Path, root: Path) -> tuple[Path | None, str]:
    """A symlink's resolved target when it is a regular file inside ``root``, else why not."""
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(root):
        return None, "symbolic link leading outside the submission (not followed)"
    try:
        mode = target.stat().st_mode
    except OSError:
        return None, "broken symbolic link"
    if not stat.S_ISREG(mode):
        return None, "symbolic link to a folder or special file (not followed)"
    return target, ""


def _copy_entries(src: Path, entries: Sequence[_Entry], strip: PurePosixPath, dest: Path,
                  limits: ExtractLimits, budget: _Budget) -> list[str]:
    """Copy a folder's listed files into ``dest``; returns notes on what was skipped.

    A symlink is copied as the file it names only when that file is inside the submission
    (``src / strip``): links to the reference, another student or ``/etc`` are never followed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = (src / strip).resolve()
    notes: list[str] = []
    for entry in entries:
        if entry.skipped or entry.kind == "dir":
            continue
        rel = entry.rel.relative_to(strip)
        source: Path | None = src / entry.rel
        if entry.kind == "special":
            notes.append(f"skipped {rel}: not a regular file")
            continue
        if entry.kind == "link":
            source, why = _link_target(src / entry.rel, root)
            if source is None:
                notes.append(f"skipped {rel}: {why}")
                continue
        _copy_file(source, dest / rel, rel, limits, budget, notes)
    if len(notes) > MAX_NOTES:
        notes[MAX_NOTES:] = [f"... and {len(notes) - MAX_NOTES} more skipped entries"]
    return notes


@dataclass(frozen=True)
class _Taken:
    """A submission before it gets its unique name."""

    base: str
    root: Path | None
    origin: str
    error: str | None = None
    notes: tuple[str, ...] = ()


@dataclass
class _Student:
    """One student of an export, planned before anything of theirs is written."""

    rel: PurePosixPath
    kind: str
    origin: str
    own: list[_Entry] = field(default_factory=list)
    """The outer entries at or under ``rel``."""
    zip_path: Path | None = None
    """The inner archive, for a zip student."""
    owned_zip: bool = False
    """``zip_path`` is our copy (deleted once extracted)."""
    inner: list[_Entry] = field(default_factory=list)
    error: str | None = None
    demand: int = 0
    count: int = 0


def _plan(tree: _Tree, root: PurePosixPath, students: Sequence[PurePosixPath], entries: Sequence[_Entry],
          origin: str) -> list[_Student]:
    """Attribute every entry to its student; a refused entry becomes that student's error."""
    plan = {rel: _Student(rel, tree.kind[rel], f"{origin}:{rel.name}") for rel in students}
    depth = len(root.parts)
    for entry in entries:
        parts = entry.rel.parts
        if len(parts) > depth and parts[:depth] == root.parts:
            owner = plan.get(PurePosixPath(*parts[: depth + 1]))
            if owner is not None:
                owner.own.append(entry)
    for student in plan.values():
        if student.kind == "link":
            student.error = f"{student.rel.name} is a symbolic link (not followed)"
        elif student.kind == "special":
            student.error = f"{student.rel.name} is not a regular file or folder"
        else:
            student.error = next((e.problem for e in student.own if e.problem and not e.skipped), None)
    return list(plan.values())


def _share_note(share: int, limit: int, total: int, n: int, fmt: Callable[[int], str]) -> str:
    """Explains an allowance cut below the per-submission limit by the input's budget."""
    if share >= limit:
        return ""
    return (f"; {fmt(share)} is this submission's share of the {fmt(total)} allowed for one input "
            f"of {n} submissions")


def _take_students(plan: list[_Student], stage: Path, limits: ExtractLimits, outer_count: int,
                   outer_used: int, copy_dir: Callable[[_Student, Path, _Budget], list[str]]) -> list[_Taken]:
    """Take every planned student in, each within a fair share of what the input may still write."""
    for student in plan:
        if student.error:
            continue
        try:
            if student.zip_path is not None:
                with _open_zip(student.zip_path) as data:
                    student.count = len(data.infolist())
                    student.inner = _zip_entries(data)
                files = student.inner
            else:
                student.count = len(student.own)
                if student.count > limits.members:
                    raise IntakeError(f"the folder has {student.count} entries (limit {limits.members})")
                files = student.own
        except (IntakeError, OSError, *_UNREADABLE) as exc:
            student.error = _reason(exc)
            continue
        student.demand = sum(min(e.size, limits.file_bytes) for e in files
                             if e.kind in ("file", "link") and not e.skipped)
    active = [s for s in plan if not s.error]
    n = len(active)
    byte_shares = _fair_shares([s.demand for s in active], limits.intake_bytes - outer_used,
                               limits.total_bytes)
    inner = [s for s in active if s.zip_path is not None]
    member_shares = dict(zip(map(id, inner), _fair_shares([s.count for s in inner],
                                                        limits.intake_members - outer_count, limits.members)))
    shares = dict(zip(map(id, active), byte_shares))
    taken = []
    for i, student in enumerate(plan):
        base = _base_name(student.rel.name, student.kind == "dir")
        if student.error:
            taken.append(_Taken(base, None, student.origin, student.error))
            continue
        dest = stage / f"s{i}"
        share = shares[id(student)]
        budget = _Budget(share, f"the submission expands to more than {_size(share)}"
                         + _share_note(share, limits.total_bytes, limits.intake_bytes, n, _size))
        try:
            if student.zip_path is not None:
                members = member_shares[id(student)]
                if student.count > members:
                    raise IntakeError(f"the archive has {student.count} entries (limit {members}"
                                      + _share_note(members, limits.members, limits.intake_members, len(inner),
                                                    "{} entries".format) + ")")
                with _open_zip(student.zip_path) as data:
                    notes = _extract(data, student.inner, _ROOT, dest, limits, budget)
                if student.owned_zip:
                    student.zip_path.unlink()
            else:
                notes = copy_dir(student, dest, budget)
        except (IntakeError, OSError, *_UNREADABLE) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            taken.append(_Taken(base, None, student.origin, _reason(exc)))
            continue
        taken.append(_Taken(base, dest, student.origin, notes=tuple(notes)))
    return taken


def _single_budget(limits: ExtractLimits, what: str) -> _Budget:
    limit = min(limits.total_bytes, limits.intake_bytes)
    return _Budget(limit, f"the {what} expands to more than {_size(limit)}")


def _take_zip(path: Path, stage: Path, limits: ExtractLimits, packages: Collection[str],
              lms: bool | None) -> list[_Taken]:
    with zipfile.ZipFile(path) as outer:
        count = len(outer.infolist())
        if count > limits.intake_members:
            raise IntakeError(f"the archive has {count} entries (limit {limits.intake_members})")
        entries = _zip_entries(outer)
        tree = _Tree(entries)
        split = _split(tree, packages, lms)
        if split is None:
            if count > limits.members:
                raise IntakeError(f"the archive has {count} entries (limit {limits.members})")
            dest = stage / "submission"
            _extract(outer, entries, _ROOT, dest, limits, _single_budget(limits, "archive"))
            return [_Taken(_base_name(path.name, False), dest, str(path))]
        plan = _plan(tree, *split, entries, str(path))
        # Inner archives are written out first. Together they are the outer archive's own content,
        # so running out of budget here means the export itself is too large: a batch error.
        written = _Budget(limits.intake_bytes, f"the archive expands to more than "
                          f"{_size(limits.intake_bytes)} (the limit for one input, inner archives included)")
        for i, student in enumerate(plan):
            head = next((e for e in student.own if e.rel == student.rel), None)
            if student.error or student.kind != "file" or head is None or head.info is None:
                continue
            student.zip_path, student.owned_zip = stage / "zips" / f"{i}.zip", True
            try:
                _write_member(outer, head.info, student.zip_path, limits, written)
            except _OverBudget:
                raise
            except (IntakeError, OSError, *_UNREADABLE) as exc:
                student.error = _reason(exc)
        return _take_students(plan, stage, limits, count, written.used,
                              lambda s, dest, budget: _extract(outer, s.own, s.rel, dest, limits, budget))


def _take_folder(path: Path, stage: Path, limits: ExtractLimits, packages: Collection[str],
                 lms: bool | None) -> list[_Taken]:
    entries = _folder_entries(path, limits.intake_members)
    tree = _Tree(entries)
    split = _split(tree, packages, lms)
    name = (path if path.name not in ("", ".", "..") else path.resolve()).name
    if split is None:
        if len(entries) > limits.members:
            raise IntakeError(f"the folder has {len(entries)} entries (limit {limits.members})")
        dest = stage / "submission"
        notes = _copy_entries(path, entries, _ROOT, dest, limits, _single_budget(limits, "folder"))
        return [_Taken(_base_name(name, True), dest, str(path), notes=tuple(notes))]
    plan = _plan(tree, *split, entries, str(path))
    for student in plan:
        if not student.error and student.kind == "file":
            student.zip_path = path / student.rel  # read in place, opened without following links
    return _take_students(plan, stage, limits, len(entries), 0,
                          lambda s, dest, budget: _copy_entries(path, s.own, s.rel, dest, limits, budget))


def collect(paths: Sequence[Path], workdir: Path, *, limits: ExtractLimits = ExtractLimits(),
            lms: bool | None = None, packages: Collection[str] | None = None) -> list[Submission]:
    """Take in every path.

    Args:
        paths: folders and ``.zip`` files, each one submission or an LMS export of many.
        workdir: where the clean copies are made (created if missing).
        limits: size and count limits; ``intake_*`` apply to each path with all it holds.
        lms: force (True) or forbid (False) LMS-export splitting; None decides from the files.
        packages: folder names that mark one course layout (never a student's folder); default
            ``bundled_package_names()``.
    """
    packages = bundled_package_names() if packages is None else frozenset(packages)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    names = _Names()
    out: list[Submission] = []
    for path in map(Path, paths):
        stage = Path(tempfile.mkdtemp(prefix="in", dir=workdir))
        try:
            if path.is_dir():
                taken = _take_folder(path, stage, limits, packages, lms)
            elif path.is_file() and _is_zip(path.name):
                taken = _take_zip(path, stage, limits, packages, lms)
            else:
                raise IntakeError(f"{path} is not a folder or a .zip file")
        except (IntakeError, OSError, *_UNREADABLE) as exc:
            shutil.rmtree(stage, ignore_errors=True)
            name = (path if path.name not in ("", ".", "..") else path.resolve()).name
            taken = [_Taken(_base_name(name, path.is_dir()), None, str(path), _reason(exc))]
        out.extend(_checked(Submission(names(t.base), t.root, t.origin, t.error, t.notes)) for t in taken)
    return out


def _checked(sub: Submission) -> Submission:
    """A submission without a single Python file is an error, not an empty grade."""
    if sub.root is not None and not any(sub.root.rglob("*.py")):
        return Submission(sub.name, None, sub.origin, "no Python files found in the submission", sub.notes)
    return sub


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive of ``files`` (name -> content); used by tests and examples."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()
