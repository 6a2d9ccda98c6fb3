"""Resource limits of a submission's processes (safe defaults; the spec and the CLI may override)."""

from __future__ import annotations

from dataclasses import dataclass


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
