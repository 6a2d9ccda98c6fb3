"""Resource limits of a submission's processes (safe defaults; the spec and the CLI may override).

``Limits`` also words the message a report gives when one of them stopped the student's code, so
that every path (a crash seen by the sandbox, an exception raised in the child) names a limit the
same way.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

__all__ = ["Limits"]

_ERRNO = re.compile(r"\[Errno (\d+)\]")


@dataclass(frozen=True)
class Limits:
    """Limits applied to the student's process tree."""

    check_seconds: float = 60.0
    """Wall time of one check (enforced by the runner; the child is killed and restarted)."""
    submission_seconds: float = 900.0
    """Wall time of a whole submission; checks after it is spent are not run."""
    cpu_seconds: int = 600
    """CPU time per process (RLIMIT_CPU; the kernel sends SIGXCPU, then SIGKILL)."""
    memory_bytes: int = 2 * 1024**3
    """Memory of the whole tree (cgroup memory controller; RLIMIT_AS per process as a fallback)."""
    max_processes: int = 32
    """Processes and threads of the tree (cgroup pids controller; RLIMIT_NPROC for the sandbox uid)."""
    max_open_files: int = 256
    """Open file descriptors per process (RLIMIT_NOFILE)."""
    max_file_bytes: int = 64 * 1024**2
    """Largest file a process may write, its captured output included (RLIMIT_FSIZE)."""
    output_bytes: int = 64 * 1024
    """How much of what the student's code printed is kept per check."""
    threads: int = 1
    """BLAS/OpenMP threads (OMP_NUM_THREADS and friends), pinned for determinism."""

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
        return f"file size limit ({self.max_file_bytes / 2**20:g} MiB, printed output included) exceeded"

    def open_files_message(self) -> str:
        """The open-files limit, as a report names it."""
        return f"open files limit ({self.max_open_files}) reached"

    def limit_of_error(self, text: str) -> str | None:
        """The limit an exception raised in the child ran into, from its message or traceback.

        Python ignores SIGXFSZ, so a write past RLIMIT_FSIZE does not kill the process: it raises
        ``OSError: [Errno 27] File too large`` in the student's code (for ``print`` too, once
        the captured output reaches the limit). RLIMIT_NOFILE shows up as ``[Errno 24]``.
        Only the errno is trusted, not the wording, which may be localised.
        """
        codes = {int(code) for code in _ERRNO.findall(text)}
        if errno.EFBIG in codes:
            return self.file_size_message()
        if errno.EMFILE in codes:
            return self.open_files_message()
        return None
