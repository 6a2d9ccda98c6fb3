"""Resource limits of a submission's processes (safe defaults; the spec and the CLI may override).

``Limits`` also words the message a report gives when one of them stopped the student's code, so
that every path (a crash seen by the sandbox, an exception raised in the child) names a limit the
same way.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

__all__ = ["LimitInfo", "Limits", "docs_table", "limit_fields"]

_ERRNO = re.compile(r"\[Errno (\d+)\]")
BYTES_PER_FILE = 16 * 1024
"""Scratch holds at most one file (inode) per this many bytes of the disk limit."""
MIN_FILES = 64
"""...and at least this many, so that a tiny disk limit still allows a few files."""


@dataclass(frozen=True)
class LimitInfo:
    """How one limit is spelled outside the code: option, spec key, unit, help, enforcement."""

    option: str
    """Command-line option (``grade`` and ``check``), e.g. ``--memory-mb``."""
    metavar: str
    """The option's value in help and docs, e.g. ``M``."""
    unit: int
    """Field units per option unit (``2**20`` for an option in MiB of a field in bytes)."""
    help: str
    """One line for ``--help`` and the docs table."""
    enforced_by: str
    """What enforces it (for the docs table)."""


def _limit(
    default: float, option: str, metavar: str, help: str, enforced_by: str, unit: int = 1
) -> Any:
    return field(
        default=default, metadata={"limit": LimitInfo(option, metavar, unit, help, enforced_by)}
    )


@dataclass(frozen=True)
class Limits:
    """Limits applied to the student's process tree.

    Every field's metadata (``LimitInfo``) is the one source of its command-line option, its
    spec key (the field name, in ``[limits]``), its unit and its help: the CLI, spec validation
    and the docs table are generated from it (``limit_fields``, ``docs_table``).
    """

    check_seconds: float = _limit(
        60.0,
        "--timeout",
        "S",
        "wall-time limit per check, in seconds",
        "the session's deadline (the child is killed and restarted)",
    )
    """Wall time of one check (enforced by the session; the child is killed and restarted)."""
    submission_seconds: float = _limit(
        900.0,
        "--submission-timeout",
        "S",
        "wall-time limit of a whole submission, in seconds (later checks are not run)",
        "the check stage: later checks are not run",
    )
    """Wall time of a whole submission; checks after it is spent are not run."""
    cpu_seconds: int = _limit(
        600, "--cpu-seconds", "N", "CPU-time limit per process, in seconds", "RLIMIT_CPU (SIGXCPU)"
    )
    """CPU time per process (RLIMIT_CPU; the kernel sends SIGXCPU, then SIGKILL)."""
    memory_bytes: int = _limit(
        2 * 1024**3,
        "--memory-mb",
        "M",
        "memory limit of the student's process tree, in MiB",
        "cgroup (RLIMIT_AS without one)",
        unit=2**20,
    )
    """Memory of the whole tree (cgroup memory controller; RLIMIT_AS per process as a fallback)."""
    max_processes: int = _limit(
        32,
        "--max-processes",
        "N",
        "processes and threads the student's code may run",
        "cgroup `pids.max` (RLIMIT_NPROC backstop)",
    )
    """Processes and threads of the tree (cgroup pids controller; RLIMIT_NPROC of the sandbox
    uid)."""
    max_open_files: int = _limit(
        256, "--max-open-files", "N", "open files per process", "RLIMIT_NOFILE"
    )
    """Open file descriptors per process (RLIMIT_NOFILE)."""
    max_file_bytes: int = _limit(
        64 * 1024**2,
        "--max-file-mb",
        "M",
        "largest file the student's code may write, printed output included, in MiB",
        "RLIMIT_FSIZE, the captured output included",
        unit=2**20,
    )
    """Largest file a process may write, its captured output included (RLIMIT_FSIZE)."""
    disk_bytes: int = _limit(
        256 * 1024**2,
        "--disk-mb",
        "M",
        "disk space of the student's scratch folder, in MiB (one file per 16 KiB at most)",
        "scratch is a tmpfs with `size` and `nr_inodes` (one file per 16 KiB)",
        unit=2**20,
    )
    """Bytes (and, at one per ``BYTES_PER_FILE``, files) the student's code may store in its
    scratch folder: a tmpfs mounted with ``size`` and ``nr_inodes`` (``grader.sandbox.scratch``)."""
    output_bytes: int = _limit(
        64 * 1024,
        "--output-kb",
        "K",
        "printed output kept per check, in KiB",
        "the session keeps the last K KiB per check",
        unit=1024,
    )
    """How much of what the student's code printed is kept per check."""
    threads: int = _limit(
        1,
        "--threads",
        "N",
        "BLAS/OpenMP threads of the student's process",
        "`OMP_NUM_THREADS` and friends",
    )
    """BLAS/OpenMP threads (OMP_NUM_THREADS and friends), pinned for determinism."""

    @classmethod
    def layered(cls, *layers: Mapping[str, float]) -> Limits:
        """The defaults, overridden by each layer in turn (the spec's ``[limits]``, then the CLI's).

        Keys are field names; values in the field's units (integer fields are truncated).
        """
        values: dict[str, float] = {}
        for layer in layers:
            values.update(layer)
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown limits: {', '.join(unknown)}")
        types = {f.name: f.type for f in fields(cls)}
        typed: dict[str, Any] = {
            k: (int(v) if types[k] in ("int", int) else float(v)) for k, v in values.items()
        }
        return cls(**typed)

    # -- how a report names a limit -------------------------------------------------------------

    def memory_message(self) -> str:
        """The memory limit, as a report names it."""
        return f"memory limit ({self.memory_bytes / 2**20:g} MiB) exceeded"

    def processes_message(self) -> str:
        """The process-count limit, as a report names it."""
        return f"process limit ({self.max_processes}) reached"

    def cpu_message(self) -> str:
        """The CPU-time limit, as a report names it."""
        return f"CPU time limit ({self.cpu_seconds} s) exceeded"

    def file_size_message(self) -> str:
        """The file-size limit (which also caps printed output), as a report names it."""
        mib = self.max_file_bytes / 2**20
        return f"file size limit ({mib:g} MiB, printed output included) exceeded"

    def disk_files(self) -> int:
        """How many files (inodes) scratch may hold: one per ``BYTES_PER_FILE`` of the disk limit.

        Empty files cost no data blocks but kernel memory each; without an inode limit 150,000 of
        them fit in any byte budget.
        """
        return max(self.disk_bytes // BYTES_PER_FILE, MIN_FILES)

    def disk_message(self) -> str:
        """The disk limit (bytes and files of scratch), as a report names it."""
        mib = self.disk_bytes / 2**20
        return f"disk limit ({mib:g} MiB, {self.disk_files()} files) exceeded"

    def open_files_message(self) -> str:
        """The open-files limit, as a report names it."""
        return f"open files limit ({self.max_open_files}) reached"

    def limit_of_error(self, text: str) -> str | None:
        """The limit an exception raised in the child ran into, from its message or traceback.

        Python ignores SIGXFSZ, so a write past RLIMIT_FSIZE does not kill the process: it raises
        ``OSError: [Errno 27] File too large`` in the student's code (for ``print`` too, once
        the captured output reaches the limit). RLIMIT_NOFILE shows up as ``[Errno 24]``, a full
        scratch folder (bytes or files) as ``[Errno 28]`` (ENOSPC).
        Only the errno is trusted, not the wording, which may be localised.
        """
        codes = {int(code) for code in _ERRNO.findall(text)}
        if errno.EFBIG in codes:
            return self.file_size_message()
        if errno.EMFILE in codes:
            return self.open_files_message()
        if codes & {errno.ENOSPC, errno.EDQUOT}:  # a full tmpfs: out of bytes or of inodes
            return self.disk_message()
        return None


def limit_fields() -> list[tuple[Field[Any], LimitInfo]]:
    """Every limit field with its ``LimitInfo``, in declaration order."""
    return [(f, f.metadata["limit"]) for f in fields(Limits)]


def spec_keys() -> dict[str, tuple[str, int]]:
    """Every key a spec's ``[limits]`` accepts -> (field name, field units per key unit).

    A limit is given either by its field name, in the field's units (``disk_bytes``), or by its
    option's name, in the option's units (``disk_mb`` for ``--disk-mb``), as an instructor who
    knows the command line would write it.
    """
    keys: dict[str, tuple[str, int]] = {}
    for f, info in limit_fields():
        keys[f.name] = (f.name, 1)
        keys.setdefault(info.option.removeprefix("--").replace("-", "_"), (f.name, info.unit))
    return keys


def docs_table() -> str:
    """The Markdown table of limits in ``docs/sandbox.md`` (a test keeps the two equal)."""
    rows = ["| spec keys | option | default | enforced by |", "|---|---|---|---|"]
    for f, info in limit_fields():
        default = f.default / info.unit  # type: ignore[operator]
        keys = f"`{f.name}`"
        option_key = info.option.removeprefix("--").replace("-", "_")
        if option_key != f.name:
            keys += f", `{option_key}`"
        rows.append(
            f"| {keys} | `{info.option} {info.metavar}` | {default:g} | {info.enforced_by} |"
        )
    return "\n".join(rows)
