"""Sandbox uids: one unprivileged uid per live sandbox, and sweeping a uid's processes.

When the grader runs as root, student code runs as uid ``UID_BASE + slot`` (used by nothing but
the sandbox), so that kill(-1) or a fork bomb cannot reach the grader and teardown can find every
process the student's code left, by uid. Parallel graders never share a uid: each claims one with
a lock file under ``LOCK_DIR``, held for the sandbox's life.
"""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import time
from collections.abc import Set
from pathlib import Path
from typing import IO

from grader.errors import SandboxUnavailable
from grader.sandbox.leftovers import sweep_leftovers

__all__ = ["LOCK_DIR", "UID_BASE", "UID_SLOTS", "claim_uid", "kill_uid", "processes_of"]

UID_BASE = 61000
UID_SLOTS = 1000
# The fallback is a fixed name in a world-writable folder: ``claim_uid`` checks that it is a
# directory of ours that nobody else can write before it creates lock files there.
_FALLBACK_LOCK_DIR = Path("/tmp/nngrader-locks")  # noqa: S108 - checked by _private_lock_dir
LOCK_DIR = Path("/run/nngrader") if os.access("/run", os.W_OK) else _FALLBACK_LOCK_DIR


def claim_uid() -> tuple[int, IO[str]]:
    """Claim a free sandbox uid; kill and remove whatever a crashed grader left of it.

    Returns:
        The uid and its lock file, to keep open while the uid is in use (closing releases it).

    Raises:
        SandboxUnavailable: Every slot is taken, or the lock folder is not safe to use.
    """
    _private_lock_dir()
    for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
        # Not a ``with``: the lock is held as long as the caller keeps the file open.
        handle = open(LOCK_DIR / f"uid-{uid}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        kill_uid(uid)  # anything left by a grader that crashed before cleaning up
        sweep_leftovers(uid)  # and its files: a new submission must not find them
        return uid, handle
    raise SandboxUnavailable("no free sandbox uid")


def _private_lock_dir() -> None:
    """Create ``LOCK_DIR``, and refuse it unless it is our own directory, writable only by us.

    Anyone who could write there could hold every slot, or plant a symlink that makes our
    ``open(..., "w")`` truncate a file of their choosing.
    """
    LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = LOCK_DIR.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailable(
            f"{LOCK_DIR} (the sandbox uid locks) must be a directory owned by uid "
            f"{os.geteuid()} that nobody else can write"
        )


def kill_uid(uid: int, timeout: float = 5.0, spare: Set[int] = frozenset()) -> None:
    """SIGKILL every live process whose real uid is ``uid``, until none is left.

    New forks are caught on the next pass; gives up after ``timeout`` seconds.

    Args:
        uid: A sandbox uid (no other process may run as it).
        timeout: Seconds to keep sweeping at most.
        spare: Pids not to kill (the caller's direct children, killed later on purpose).
    """
    end = time.monotonic() + timeout
    while (pids := set(processes_of(uid)) - spare) and time.monotonic() < end:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def processes_of(uid: int, *, zombies: bool = False) -> list[int]:
    """Processes whose real uid is ``uid``.

    Args:
        uid: The uid to look for.
        zombies: Also list processes that exited and are not reaped yet.

    Returns:
        Their pids.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        dead = fields.get("State", "").strip().startswith(("Z", "X"))
        if int(fields.get("Uid", "-1 ").split()[0]) == uid and (zombies or not dead):
            found.append(int(entry))
    return found
