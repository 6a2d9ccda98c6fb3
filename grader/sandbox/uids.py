"""Sandbox uids: one unprivileged uid per live sandbox, and sweeping a uid's processes.

When the grader runs as root, student code runs as uid ``UID_BASE + slot`` (used by nothing but
the sandbox), so that kill(-1) or a fork bomb cannot reach the grader and teardown can find every
process the student's code left, by uid. Parallel graders never share a uid: each claims one with
a lock file under ``LOCK_DIR``, held for the sandbox's life.

The lock file also says how its last holder let the uid go: ``release_uid`` writes ``CLEAN`` only
after a teardown that found no process of the uid left and swept its files completely. Any other
content (a grader that crashed or was killed, an unfinished sweep, an older nngrader that leaves the
file empty) makes the next ``claim_uid`` kill and sweep what may be left before the uid is used
again. Only root can write ``LOCK_DIR``, and nothing but a claimed sandbox starts a process as the
uid, so a ``CLEAN`` file cannot hide anything; skipping the sweep spares every sandbox start a
scan of /proc and of the shared folders.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Set
from pathlib import Path
from typing import IO

from grader.errors import SandboxUnavailable
from grader.sandbox.facilities import has_fcntl
from grader.sandbox.leftovers import sweep_leftovers

__all__ = [
    "CLEAN",
    "LOCK_DIR",
    "UID_BASE",
    "UID_SLOTS",
    "claim_uid",
    "kill_uid",
    "processes_of",
    "release_uid",
    "settle_uid",
]

UID_BASE = 61000
UID_SLOTS = 1000
# The fallback is a fixed name in a world-writable folder: ``claim_uid`` checks that it is a
# directory of ours that nobody else can write before it creates lock files there.
_FALLBACK_LOCK_DIR = Path("/tmp/nngrader-locks")  # noqa: S108 - checked by _private_lock_dir
LOCK_DIR = Path("/run/nngrader") if os.access("/run", os.W_OK) else _FALLBACK_LOCK_DIR
CLEAN = "released clean\n"
"""A lock file's content once its holder left nothing of the uid behind (``release_uid``)."""
IN_USE = "in use\n"
# getattr: this module is imported where these flags do not exist (Windows), though never used.
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_MAX_PAUSE = 0.01
"""Longest wait between two passes of a sweep; the first waits are far shorter (``pause``)."""


def claim_uid() -> tuple[int, IO[str]]:
    """Claim a free sandbox uid; kill and remove whatever a crashed grader left of it.

    Returns:
        The uid and its lock file, to keep open while the uid is in use (``release_uid``).

    Raises:
        SandboxUnavailable: Every slot is taken, the lock folder is not safe to use, or there is
            no ``fcntl`` module to lock with (``grader.sandbox.facilities.uid_drop`` says first).
    """
    if not has_fcntl():
        raise SandboxUnavailable("no fcntl module here: a sandbox uid cannot be claimed")
    import fcntl  # here: Windows has no such module

    _private_lock_dir()
    for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
        # Not a ``with``: the lock is held as long as the caller keeps the file open. Opened
        # without truncating: what the last holder wrote is read once the lock is ours.
        handle = os.fdopen(os.open(LOCK_DIR / f"uid-{uid}.lock", _LOCK_FLAGS, 0o600), "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if handle.read() != CLEAN:
            kill_uid(uid)  # anything left by a grader that crashed before cleaning up
            sweep_leftovers(uid)  # and its files: a new submission must not find them
        _rewrite(handle, IN_USE)
        return uid, handle
    raise SandboxUnavailable("no free sandbox uid")


def release_uid(handle: IO[str], *, clean: bool) -> None:
    """Release a uid claimed by ``claim_uid``.

    Args:
        handle: Its lock file.
        clean: No process of the uid is left and its files were all swept: the next claim need
            not sweep again.
    """
    try:
        if clean:
            _rewrite(handle, CLEAN)
    except OSError:
        pass  # the file then says "in use": the next claim sweeps, which is always safe
    finally:
        handle.close()


def _rewrite(handle: IO[str], text: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


def _private_lock_dir() -> None:
    """Create ``LOCK_DIR``, and refuse it unless it is our own directory, writable only by us.

    Anyone who could write there could hold every slot, or plant a symlink that makes our
    ``open`` create or write a file of their choosing, or a lock file saying ``CLEAN``.
    """
    LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = LOCK_DIR.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailable(
            f"{LOCK_DIR} (the sandbox uid locks) must be a directory owned by uid "
            f"{os.geteuid()} that nobody else can write"
        )


def pause(passes: int) -> None:
    """Wait before pass ``passes + 1`` of a sweep: 0.5 ms, then doubling up to 10 ms.

    A SIGKILLed process is usually gone within a millisecond or two; a fixed 10 ms wait made
    every teardown pay for the slow case.
    """
    time.sleep(min(0.0005 * 2**passes, _MAX_PAUSE))


def kill_uid(uid: int, timeout: float = 5.0, spare: Set[int] = frozenset()) -> None:
    """SIGKILL every live process whose real uid is ``uid``, until none is left.

    New forks are caught on the next pass; gives up after ``timeout`` seconds.

    Args:
        uid: A sandbox uid (no other process may run as it).
        timeout: Seconds to keep sweeping at most.
        spare: Pids not to kill (the caller's direct children, killed later on purpose).
    """
    end = time.monotonic() + timeout
    passes = 0
    while (pids := set(processes_of(uid)) - spare) and time.monotonic() < end:
        _kill(pids)
        pause(passes)
        passes += 1


def settle_uid(uid: int, timeout: float = 10.0) -> bool:
    """Kill every live process of ``uid`` and wait (bounded) until init has reaped them all.

    Zombies still count against the uid's RLIMIT_NPROC: a child started before they are gone
    could not fork, or after its setuid not even exec. Some inits reap only every second or so
    (seen on Firecracker VMs), so after a fork bomb or a daemon this waits; otherwise one scan
    of /proc finds nothing and it returns at once.

    Returns:
        Whether nothing of the uid is left, not even a zombie.
    """
    end = time.monotonic() + timeout
    passes = 0
    while True:
        live, dead = _scan(uid)
        if not live and not dead:
            return True
        if time.monotonic() >= end:
            return False
        _kill(live)
        pause(passes)
        passes += 1


def _kill(pids: Set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def processes_of(uid: int, *, zombies: bool = False) -> list[int]:
    """Processes whose real uid is ``uid``.

    Args:
        uid: The uid to look for.
        zombies: Also list processes that exited and are not reaped yet.

    Returns:
        Their pids.
    """
    live, dead = _scan(uid)
    return sorted(live | dead) if zombies else sorted(live)


def _scan(uid: int) -> tuple[set[int], set[int]]:
    """One pass over /proc: the live processes of real uid ``uid``, and its unreaped ones.

    Read as bytes and searched, not split into fields: this runs at every teardown, over every
    process of the machine.
    """
    live: set[int] = set()
    dead: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        if _field(status, b"Uid:") != str(uid).encode():
            continue
        (dead if _field(status, b"State:") in (b"Z", b"X") else live).add(int(entry))
    return live, dead


def _field(status: bytes, name: bytes) -> bytes:
    """The first word of the line of /proc/PID/status that starts with ``name`` (b"" if none).

    The kernel escapes a newline in the one field a process chooses (its name), so no process can
    forge a line.
    """
    if status.startswith(name):
        at = 0
    else:
        at = status.find(b"\n" + name) + 1
        if at == 0:
            return b""
    end = status.find(b"\n", at)
    words = status[at + len(name) : end if end >= 0 else len(status)].split()
    return words[0] if words else b""
