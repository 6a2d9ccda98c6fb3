"""File permissions: the sandbox uid reaches what it needs, other uids do not (``grant_access``).

As root, the child runs as an unprivileged sandbox uid (its gid is the same number): it must write
its scratch folder and read the workspace and the child runtime, and (in process mode, where it
sees the real filesystem) be able to search its way to the Python runtime.

The workspace is the student's own code, secret from classmates graded at the same time (each as
its own uid): it stays owned by root with the sandbox uid's group, ``rwxr-x---`` / ``rw-r-----``,
so its own child reads it but can neither write nor chmod it, and other uids cannot read it. The
child runtime is the same for everyone and holds nothing secret: it is readable by all. The
folders above them get search permission only (``o+x``): a sandbox uid can walk a path it knows,
never list one.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from grader.sandbox.paths import runtime_paths

__all__ = ["NOT_KEPT_APART", "grant_access", "grant_search", "share_with_all", "share_with_group"]

GROUP_DIR, GROUP_FILE = 0o750, 0o640
"""The workspace's modes: the sandbox uid's group reads, nobody else does."""
NOT_KEPT_APART = (
    "submissions were not kept apart (not root, and isolation was off): the student's code ran "
    "as the grader's own user, so it could read the files of submissions graded at the same "
    "time and anything else that user can read; /tmp, /var/tmp and /dev/shm were shared with "
    "them, and what it left there was not removed"
)
"""The report's note where neither a sandbox uid nor bwrap kept submissions apart."""


def grant_access(
    *,
    isolation: str,
    uid: int,
    workspace: Path,
    scratch: Path,
    ro_paths: Sequence[Path],
    packages: Sequence[Path],
) -> list[str]:
    """Let ``uid`` write ``scratch``, read ``workspace`` (alone) and read ``ro_paths``; in process
    mode, also reach the Python runtime and the ``packages`` the child imports.

    Returns:
        Notes for the report about folders outside our own that had to change.
    """
    os.chown(scratch, uid, uid)
    scratch.chmod(0o700)
    share_with_group(workspace, uid)
    for top in ro_paths:
        share_with_all(top)
    for path in (workspace, scratch, *ro_paths):
        grant_search(path)  # our own temporary folders
    granted: set[str] = set()
    # bwrap re-creates parents itself; a plain process needs the real ones.
    if isolation == "process":
        for path in (*runtime_paths(), *packages):
            granted |= grant_search(path)
    if not granted:
        return []
    return [
        f"granted search permission (o+x) on {', '.join(sorted(granted))} so that "
        "the unprivileged sandbox uid can reach the Python runtime"
    ]


def share_with_group(top: Path, gid: int) -> None:
    """Give group ``gid`` (alone) read access to everything under ``top``; links are not followed.

    The owner stays as it is (ours), so the group's members cannot change the modes back. Run
    again for the next sandbox of the same workspace (the hidden phase), it hands it over.
    """
    for path in _tree(top):
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            os.lchown(path, -1, gid)
            path.chmod(GROUP_DIR if stat.S_ISDIR(mode) else GROUP_FILE)


def share_with_all(top: Path) -> None:
    """Add read (and for folders search) permission for everyone under ``top``."""
    for path in _tree(top):
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            path.chmod(mode | 0o555)
        elif stat.S_ISREG(mode):
            path.chmod(mode | 0o444)


def _tree(top: Path) -> list[Path]:
    """``top`` and everything below it (``rglob`` does not follow links to folders)."""
    return [top, *top.rglob("*")]


def grant_search(path: Path) -> set[str]:
    """Add search permission (o+x, never read) to every parent of ``path`` lacking it.

    Returns:
        The folders changed.
    """
    granted = set()
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
            granted.add(str(parent))
    return granted
