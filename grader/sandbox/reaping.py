"""Reaping sandbox processes the grading process adopted (``reap_adopted``).

``Sandbox`` waits for the processes it started. But when bwrap's outer process dies before its
namespace's init (the student's code can ``killpg`` its own group, which holds it), that init is
orphaned, and an orphan goes to the nearest *subreaper*: the machine's init, or the grading
process itself when it runs as PID 1 of a container or as a subreaper. There nobody waits for it,
and a bwrap zombie outlives ``nngrader grade``. So teardown also reaps the zombies among our
children that are the sandbox's: named ``bwrap``, or running as the sandbox uid. Other children
(a process pool's workers, say) are left alone: reaping them would steal their exit status.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["adopted_zombies", "reap_adopted"]


def _status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def adopted_zombies(uid: int | None) -> list[int]:
    """Our exited, unwaited children that belong to a sandbox: bwrap, or running as ``uid``."""
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        status = _status(entry)
        if status.get("PPid") != me or not status.get("State", "").startswith("Z"):
            continue
        uids = status.get("Uid", "").split()
        if status.get("Name") == "bwrap" or (uid is not None and str(uid) in uids):
            found.append(int(entry))
    return found


def reap_adopted(uid: int | None) -> int:
    """Wait for every zombie ``adopted_zombies`` finds (without blocking).

    Returns:
        How many were reaped.
    """
    reaped = 0
    for pid in adopted_zombies(uid):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue  # someone else waited for it meanwhile
        reaped += done == pid
    return reaped
