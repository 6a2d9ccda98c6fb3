"""File permissions that let the sandbox uid reach what it needs (``grant_access``).

As root, the child runs as an unprivileged sandbox uid: it must write its scratch folder and read
the workspace and the child runtime, and (in process mode, where it sees the real filesystem) be
able to search its way to the Python runtime.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from grader.sandbox.paths import numpy_dirs, runtime_paths

__all__ = ["grant_access", "grant_search"]


def grant_access(
    *, isolation: str, uid: int, workspace: Path, scratch: Path, ro_paths: Sequence[Path]
) -> list[str]:
    """Let ``uid`` write ``scratch`` and read ``workspace`` and ``ro_paths``.

    Returns:
        Notes for the report about folders outside our own that had to change.
    """
    os.chown(scratch, uid, uid)
    scratch.chmod(0o700)
    for top in (workspace, *ro_paths):
        for path in (top, *top.rglob("*")):
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                path.chmod(mode | 0o555)
            elif stat.S_ISREG(mode):
                path.chmod(mode | 0o444)
    for path in (workspace, scratch, *ro_paths):
        grant_search(path)  # our own temporary folders
    granted: set[str] = set()
    # bwrap re-creates parents itself; a plain process needs the real ones.
    if isolation == "process":
        for path in (*runtime_paths(), *numpy_dirs()):
            granted |= grant_search(path)
    if not granted:
        return []
    return [
        f"granted search permission (o+x) on {', '.join(sorted(granted))} so that "
        "the unprivileged sandbox uid can reach the Python runtime"
    ]


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
