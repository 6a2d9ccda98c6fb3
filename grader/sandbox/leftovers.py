"""Removing what a sandbox uid left in the places every uid can write (``sweep_leftovers``).

In process mode the child's /tmp, /var/tmp, /dev/shm and System V IPC are the machine's. Anything
the student's code leaves there would outlive the submission, where a later submission could read
it (perhaps as the same uid: uids are reused). So teardown, once every process of the uid is
dead, removes every entry the uid owns there and every System V segment, semaphore set and message
queue it created. In bwrap mode these are private to the sandbox already; the sweep costs a
folder listing and runs anyway, also when a uid is claimed (after a grader that crashed).

The walk is careful because other uids may still be writing in the same folders:
* it works on directory descriptors (``openat`` with ``O_NOFOLLOW``) and ``lstat``; a symlink is
  unlinked itself, never followed;
* it descends only into folders the uid owns (each is first taken over through its descriptor:
  owner root, group the uid's, mode 0700, so nobody else can reach what is left in it, and the
  next sweep still knows whose it was) and into world-writable folders (where the uid could have
  created entries, removed one by one), on the same filesystem;
* it stops after ``MAX_ENTRIES`` entries, ``MAX_DEPTH`` levels or ``MAX_SECONDS``, and says so.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.facilities import libc

__all__ = ["SHARED_DIRS", "remove_ipc", "sweep_leftovers"]

SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # noqa: S108 - swept, not used
"""The folders any uid can write on a usual Linux machine (/var/lock links to /run/lock)."""
MAX_ENTRIES = 1_000_000
MAX_DEPTH = 64
MAX_SECONDS = 30.0
TAKEN_OVER = 0o700
"""The mode of a folder of the uid while it is being swept (owner root, group the uid's)."""
IPC_RMID = 0
IPC_KINDS = ("shm", "sem", "msg")
# getattr: this module is imported where these flags do not exist (Windows), though never used.
_OPEN_DIR = os.O_RDONLY | sum(getattr(os, f, 0) for f in ("O_DIRECTORY", "O_NOFOLLOW", "O_CLOEXEC"))


@dataclass
class _Walk:
    """One sweep: whose entries go, what is kept, and how much walking is left."""

    uid: int
    kept: set[tuple[int, int]]
    entries: int
    deadline: float

    def spend(self) -> bool:
        """Whether one more entry may be looked at."""
        self.entries -= 1
        return self.entries >= 0 and time.monotonic() < self.deadline

    def sweep(self, fd: int, *, owned: bool, depth: int) -> bool:
        """Remove the entries of the uid (every entry when ``owned``) in the open folder ``fd``.

        Returns:
            Whether nothing of the uid is left below ``fd``.
        """
        here = os.fstat(fd).st_dev
        with os.scandir(fd) as entries:
            names = [entry.name for entry in entries]  # listed first: the loop changes the folder
        complete = True
        for name in names:
            if not self.spend():
                return False
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue  # gone already
            mine = owned or info.st_uid == self.uid or _taken_over(info, self.uid)
            if (info.st_dev, info.st_ino) in self.kept:
                continue
            if stat.S_ISDIR(info.st_mode):
                if (mine or info.st_mode & stat.S_IWOTH) and info.st_dev == here:
                    complete &= self.folder(fd, name, info, mine=mine, depth=depth)
            elif mine:
                complete &= _unlink(fd, name)
        return complete

    def folder(
        self, parent: int, name: str, info: os.stat_result, *, mine: bool, depth: int
    ) -> bool:
        """Sweep the folder ``name`` in ``parent``; remove it too when it is ``mine``."""
        try:
            fd = os.open(name, _OPEN_DIR, dir_fd=parent)
        except OSError:
            return False
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
                return False  # replaced since we looked: the next sweep will see it
            if mine:  # nobody but root can reach what may be left in it from now on
                os.fchown(fd, 0, self.uid)
                os.fchmod(fd, TAKEN_OVER)
            if depth >= MAX_DEPTH:
                return False
            done = self.sweep(fd, owned=mine, depth=depth + 1)
        finally:
            os.close(fd)
        if mine and done:
            try:
                os.rmdir(name, dir_fd=parent)
            except OSError:
                return False
        return done


def sweep_leftovers(
    uid: int,
    *,
    keep: Iterable[Path] = (),
    tops: Iterable[str] = SHARED_DIRS,
    max_entries: int = MAX_ENTRIES,
    seconds: float = MAX_SECONDS,
) -> list[str]:
    """Remove every entry owned by ``uid`` in ``tops`` (and below), and its System V IPC objects.

    Args:
        uid: A sandbox uid none of whose processes is alive.
        keep: Paths never removed (the sandbox's own scratch folder, whoever passes it).
        tops: The shared folders to sweep.
        max_entries: Entries to look at, at most.
        seconds: Time to spend, at most.

    Returns:
        Notes for the report about what could not be removed (empty when all was).
    """
    kept = {(s.st_dev, s.st_ino) for s in map(_lstat, keep) if s is not None}
    walk = _Walk(uid, kept, max_entries, time.monotonic() + seconds)
    unfinished = []
    for top in tops:
        try:
            fd = os.open(top, _OPEN_DIR)
        except OSError:
            continue  # absent here, or a link (/var/lock): swept as its target
        try:
            if not walk.sweep(fd, owned=False, depth=0):
                unfinished.append(top)
        finally:
            os.close(fd)
    remove_ipc(uid)
    if not unfinished:
        return []
    return [
        f"could not remove everything the sandbox uid {uid} left in {', '.join(unfinished)} "
        "(what is left is owned by root and closed to others, or swept when the uid is next used)"
    ]


def _taken_over(info: os.stat_result, uid: int) -> bool:
    """Whether a folder is one of ``uid``'s that an unfinished sweep took over (root's, group
    ``uid``, mode ``TAKEN_OVER``): the next sweep finishes it."""
    return (
        stat.S_ISDIR(info.st_mode)
        and (info.st_uid, info.st_gid) == (0, uid)
        and stat.S_IMODE(info.st_mode) == TAKEN_OVER
    )


def _unlink(fd: int, name: str) -> bool:
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except OSError:
        return None


def remove_ipc(uid: int) -> int:
    """Remove the System V shared memory segments, semaphore sets and message queues of ``uid``.

    Returns:
        How many were removed (owned or created by ``uid``; none when /proc/sysvipc is missing).
    """
    return sum(_remove_ipc(kind, ident) for kind in IPC_KINDS for ident in ipc_of(uid, kind))


def _remove_ipc(kind: str, ident: int) -> bool:
    lib = libc()
    if lib is None:
        return False
    if kind == "shm":
        code = lib.shmctl(ident, IPC_RMID, None)
    elif kind == "sem":
        code = lib.semctl(ident, 0, IPC_RMID)
    else:
        code = lib.msgctl(ident, IPC_RMID, None)
    return int(code) == 0


def ipc_of(uid: int, kind: str) -> list[int]:
    """Ids of the System V objects of ``kind`` (shm, sem, msg) owned or created by ``uid``."""
    try:
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
    except OSError:
        return []
    if not lines:
        return []
    header = lines[0].split()
    columns = [header.index(c) for c in ("uid", "cuid") if c in header]
    found = []
    for line in lines[1:]:
        fields = line.split()
        if any(int(fields[c]) == uid for c in columns):
            found.append(int(fields[1]))  # the id follows the key in every table
    return found
