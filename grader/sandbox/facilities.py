"""Which facilities of the operating system the sandbox can use here: probed, never assumed.

The grading machines run Linux as root and have them all; the student kit also runs on laptops
(Linux without root or bubblewrap, macOS, Windows). Each facility carries protections of its own,
and where one is missing only those are dropped (``missing_note`` words what for the report):

    prctl     libc's ``prctl`` (Linux): no-new-privileges and the seccomp filter against user
              namespaces in process mode, and asking whether we adopt orphans (``reaping``)
    resource  the ``resource`` module (POSIX): the rlimits (CPU time, file size, open files, and
              memory per process where no cgroup limits it)
    fcntl     the ``fcntl`` module (POSIX): the lock that claims a sandbox uid, so the uid drop
    cgroup    /sys/fs/cgroup (Linux): memory and process limits of the whole tree, and the sweep
              of daemons that left the process group
    procfs    /proc (Linux): finding a sandbox uid's processes, so the uid drop too

The last three matter only as root (``relevant``). Time limits need none of them: the session's
deadline kills the child (by its process group where there are process groups,
``process_groups``).

One more facility drops no protection, so no note names it: ``posix_fds``, handing a child extra
inherited descriptors (``pass_fds``) and waiting on pipes with ``select`` (POSIX; Windows has
neither). Without it the check protocol travels on the child's stdin and stdout instead
(``grader.sandbox.channel``).

Tests simulate an absence on a machine that has everything: ``NNGRADER_SIMULATE_MISSING`` is a
comma-separated list of the names above (``prctl,resource,fcntl,cgroup,procfs,posix_fds``). Only
the real probes are cached; the variable is read at every call, so a test can set it with
``monkeypatch.setenv``. ``Sandbox`` copies it into the child's otherwise clean environment, so
the child, another interpreter, sees the same machine as the grading process.
"""

from __future__ import annotations

import ctypes
import importlib
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

__all__ = [
    "CGROUP_ROOT",
    "FACILITIES",
    "SIMULATE_ENV",
    "has_cgroups",
    "has_fcntl",
    "has_posix_fds",
    "has_procfs",
    "has_resource",
    "is_root",
    "libc",
    "missing",
    "missing_note",
    "not_root_note",
    "notes",
    "prctl",
    "process_groups",
    "relevant",
    "simulated",
    "uid_drop",
]

SIMULATE_ENV = "NNGRADER_SIMULATE_MISSING"
FACILITIES = ("prctl", "resource", "fcntl", "cgroup", "procfs")
CGROUP_ROOT = Path("/sys/fs/cgroup")
AS_ROOT_ONLY = frozenset({"fcntl", "cgroup", "procfs"})
"""Facilities used only when we are root (the uid drop, the cgroup)."""
DROPPED = {
    "prctl": "no no-new-privileges, and no seccomp filter against user namespaces",
    "resource": "no rlimits, so CPU time, file size and open files are not limited per process, "
    "nor memory where no cgroup limits it",
    "fcntl": "no sandbox uid can be claimed without its lock, so the code ran as the grader's own "
    "user and could read what that user can",
    "cgroup": "no cgroup limits memory and processes of the whole process tree, and daemons that "
    "left the process group are found only by a sandbox uid, where there is one",
    "procfs": "no sandbox uid, whose processes could not be found without /proc, so the code ran "
    "as the grader's own user and could read what that user can",
}
"""What each facility's absence drops, as the report says it."""


def simulated() -> frozenset[str]:
    """The facilities ``NNGRADER_SIMULATE_MISSING`` says to treat as missing (read every call)."""
    names = os.environ.get(SIMULATE_ENV, "").split(",")
    return frozenset(name.strip() for name in names if name.strip())


@cache
def libc() -> ctypes.CDLL | None:
    """The C library, loaded once and early (loading a library between fork and exec is unsafe);
    None where ctypes cannot load it (Windows)."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError, AttributeError):  # Windows: CDLL(None) is a TypeError
        return None


@cache
def _prctl() -> Callable[..., int] | None:
    lib = libc()
    # A missing symbol is an AttributeError of the library object (macOS has no prctl).
    return getattr(lib, "prctl", None) if lib is not None else None


def prctl() -> Callable[..., int] | None:
    """libc's ``prctl(option, arg2, arg3, arg4, arg5)``, or None where it is missing."""
    return None if "prctl" in simulated() else _prctl()


@cache
def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def has_resource() -> bool:
    """Whether the ``resource`` module (rlimits) is there (not on Windows)."""
    return "resource" not in simulated() and _importable("resource")


def has_fcntl() -> bool:
    """Whether the ``fcntl`` module (file locks) is there (not on Windows)."""
    return "fcntl" not in simulated() and _importable("fcntl")


@cache
def _cgroup_root() -> bool:
    return CGROUP_ROOT.is_dir()


def has_cgroups() -> bool:
    """Whether there is a cgroup hierarchy. Whether a group can be made in it (root, a writable
    v1 hierarchy) is ``CGroup.create``'s to find out: it returns None, and the caller says so."""
    return "cgroup" not in simulated() and _cgroup_root()


@cache
def _procfs() -> bool:
    return Path("/proc/self/status").is_file()


def has_procfs() -> bool:
    """Whether /proc lists processes with their uids (Linux)."""
    return "procfs" not in simulated() and _procfs()


def has_posix_fds() -> bool:
    """Whether a child can inherit extra descriptors and pipes can be waited on with ``select``
    (POSIX: not on Windows)."""
    return "posix_fds" not in simulated() and os.name != "nt"


def is_root() -> bool:
    """Whether we run as root (never on Windows, which has no ``geteuid``)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def uid_drop() -> bool:
    """Whether the child can run as a sandbox uid: we are root, and can claim one (``fcntl``)
    and find its processes (``procfs``)."""
    return is_root() and has_fcntl() and has_procfs()


def process_groups() -> bool:
    """Whether a child can lead a session of its own whose process group is killed whole (POSIX;
    Windows has neither ``setsid`` nor ``killpg``)."""
    return hasattr(os, "setsid") and hasattr(os, "killpg")


def relevant(name: str, *, root: bool, isolation: str) -> bool:
    """Whether facility ``name`` protects anything for a sandbox run this way (bwrap sets
    no-new-privileges and loads the seccomp filter itself; the uid drop and the cgroup are
    root's)."""
    if name == "prctl":
        return isolation != "bwrap"
    return root or name not in AS_ROOT_ONLY


def _present(name: str) -> bool:
    probes: dict[str, Callable[[], bool]] = {
        "prctl": lambda: prctl() is not None,
        "resource": has_resource,
        "fcntl": has_fcntl,
        "cgroup": has_cgroups,
        "procfs": has_procfs,
    }
    return probes[name]()


def missing(*, root: bool, isolation: str) -> tuple[str, ...]:
    """The facilities missing here whose protections a sandbox run this way would have had."""
    return tuple(
        name
        for name in FACILITIES
        if relevant(name, root=root, isolation=isolation) and not _present(name)
    )


def missing_note(names: Iterable[str]) -> str | None:
    """The report's one note on missing facilities ``names`` (None when there are none)."""
    names = tuple(names)
    if not names:
        return None
    dropped = "; ".join(f"{name} ({DROPPED[name]})" for name in names)
    return (
        f"missing on this machine: {dropped}. Time limits still apply: the student's process is "
        "killed at its deadline"
    )


def not_root_note() -> str:
    """The report's note on running without root: what still limits the student's code."""
    applying = {"rlimits": has_resource(), "the process group": process_groups()}
    kept = [name for name, ok in applying.items() if ok]
    verb = "apply" if len(kept) > 1 else "applies"
    still = f" ({' and '.join(kept)} still {verb})" if kept else ""
    who = "not running as root: student code runs as the grader's own user"
    return f"{who}, without a cgroup{still}"


def notes(*, root: bool, isolation: str) -> list[str]:
    """The report's notes on this machine: what is missing, and (not root) what still applies."""
    found = [note] if (note := missing_note(missing(root=root, isolation=isolation))) else []
    return found if root else [*found, not_root_note()]
