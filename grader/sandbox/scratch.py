"""The disk limit: the scratch folder is a size- and inode-limited tmpfs (``ScratchDisk``).

A plain host folder let student code write 64 files of 60 MiB and 150,000 empty ones in 13 s,
with no limit firing, and the per-submission budget times ``--jobs`` fills a disk. So scratch is
a tmpfs with ``size`` (bytes) and ``nr_inodes`` (files) the kernel enforces: a write past either
fails with ENOSPC in the student's code, which the report names (``Limits.disk_message``). Its
pages are charged to the memory cgroup of the process that writes them, so they also count
against the memory limit; unmounting frees them.

* As root (both modes) the grading process mounts it on the host's scratch folder itself, so the
  folder keeps its contents across restarts of the child, and unmounts it at teardown.
* Not root, bwrap mode: bwrap mounts one per child (``--size``, bwrap 0.8.0 or later) on scratch,
  so scratch starts empty at each restart of the child. Without ``--size``: no disk limit.
* Not root, process mode: no disk limit (nothing to mount with).

``ScratchDisk.note`` says which of these a report needs to mention.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.facilities import libc
from grader.sandbox.limits import Limits

__all__ = ["ScratchDisk", "mount_tmpfs", "tmpfs_options", "unmount"]

MS_NOSUID, MS_NODEV = 0x2, 0x4
MNT_DETACH = 0x2


def _linux_libc() -> ctypes.CDLL:
    """The C library, where its mount(2) is Linux's (it has ``umount2``; macOS's ``mount`` takes
    other arguments).

    Raises:
        OSError: ENOSYS elsewhere.
    """
    lib = libc()
    if lib is None or not hasattr(lib, "umount2"):
        raise OSError(errno.ENOSYS, "no Linux mount(2) here")
    return lib


def tmpfs_options(limits: Limits, uid: int) -> str:
    """The tmpfs mount options for a scratch folder owned by ``uid`` (mode 0700)."""
    return f"size={limits.disk_bytes},nr_inodes={limits.disk_files()},mode=0700,uid={uid},gid={uid}"


def mount_tmpfs(path: Path, options: str) -> None:
    """Mount a tmpfs (nosuid, nodev) on ``path``.

    Raises:
        OSError: mount(2) refused (no CAP_SYS_ADMIN, e.g. in an unprivileged container), or
            there is no Linux mount(2) here.
    """
    flags = MS_NOSUID | MS_NODEV
    lib = _linux_libc()
    if lib.mount(b"nngrader-scratch", os.fsencode(path), b"tmpfs", flags, options.encode()):
        code = ctypes.get_errno()
        raise OSError(code, f"mounting a tmpfs on {path}: {os.strerror(code)}")


def unmount(path: Path) -> None:
    """Unmount ``path`` (lazily: a namespace a killed bwrap left behind may still hold it)."""
    if _linux_libc().umount2(os.fsencode(path), MNT_DETACH):
        code = ctypes.get_errno()
        raise OSError(code, f"unmounting {path}: {os.strerror(code)}")


@dataclass
class ScratchDisk:
    """How one sandbox's scratch folder is limited, and the mount to undo at teardown."""

    path: Path
    mounted: bool = False
    """A tmpfs of ours is mounted on ``path`` (undone by ``close``)."""
    in_bwrap: bool = False
    """bwrap mounts a sized tmpfs on scratch (and /tmp) for each child (not root)."""
    note: str | None = None
    """What a report says when the limit is weaker than documented, else None."""

    @classmethod
    def open(
        cls, path: Path, *, limits: Limits, uid: int | None, isolation: str, bwrap_size: bool
    ) -> ScratchDisk:
        """Limit the scratch folder ``path`` as this machine allows (see the module docstring).

        Args:
            uid: The sandbox uid when we are root, else None.
            isolation: ``bwrap`` or ``process``.
            bwrap_size: Whether the installed bwrap knows ``--size``.
        """
        if uid is not None:
            try:
                mount_tmpfs(path, tmpfs_options(limits, uid))
            except OSError as exc:
                return cls(path, note=f"no disk limit: {exc}")
            note = None
            if isolation == "process":
                note = (
                    "process mode: the disk limit covers the scratch folder only; /tmp and "
                    "/dev/shm are the machine's"
                )
            return cls(path, mounted=True, note=note)
        if isolation == "bwrap" and bwrap_size:
            return cls(
                path,
                in_bwrap=True,
                note="not running as root: scratch is a tmpfs of bwrap's, emptied whenever the "
                "student's process restarts",
            )
        why = "bwrap lacks --size" if isolation == "bwrap" else "process mode"
        return cls(path, note=f"no disk limit: not running as root and {why}")

    def close(self) -> None:
        """Unmount our tmpfs (its files go with it); idempotent.

        A failed unmount is not the submission's problem and must not fail its grading: the
        mount then stays until the workdir is removed (which empties it) or the machine reboots.
        """
        if self.mounted:
            self.mounted = False
            with contextlib.suppress(OSError):
                unmount(self.path)
