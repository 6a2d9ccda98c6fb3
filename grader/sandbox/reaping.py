"""Reaping sandbox processes the grading process adopted (``reap_adopted``).

``Sandbox`` waits for the processes it started. But when bwrap's outer process dies before its
namespace's init (the student's code can ``killpg`` its own group, which holds it), that init is
orphaned, and an orphan goes to the nearest *subreaper*: the machine's init, or the grading
process itself when it runs as PID 1 of a container or as a subreaper. There nobody waits for it,
and a bwrap zombie outlives ``nngrader grade``. So teardown also reaps the zombies among our
children that are the sandbox's: named ``bwrap``, or running as the sandbox uid. Other children
(a process pool's workers, say) are left alone: reaping them would steal their exit status.

An orphan is handed to us only when we are PID 1 of our namespace or a subreaper
(``adopts_orphans``); otherwise the scan of /proc could find nothing, and it is skipped. Without
prctl (not Linux) there are no subreapers, and without /proc nothing to scan.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from grader.sandbox.facilities import has_procfs, prctl

__all__ = ["adopted_zombies", "adopts_orphans", "reap_adopted"]

PR_GET_CHILD_SUBREAPER = 37


def adopts_orphans() -> bool:
    """Whether orphaned processes can become our children: we are PID 1 or a subreaper."""
    if os.getpid() == 1:
        return True
    call = prctl()
    if call is None:
        return False  # no prctl, no subreapers: only PID 1 adopts orphans
    flag = ctypes.c_int(0)
    if call(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
        return True  # cannot tell: look
    return flag.value != 0


def _status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def adopted_zombies(uid: int | None) -> list[int]:
    """Our exited, unwaited children that belong to a sandbox: bwrap, or running as ``uid``."""
    if not has_procfs():
        return []
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
    if not adopts_orphans():
        return 0
    reaped = 0
    for pid in adopted_zombies(uid):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue  # someone else waited for it meanwhile
        reaped += done == pid
    return reaped
