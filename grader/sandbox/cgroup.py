"""cgroup v1 pids and memory groups: limits the kernel enforces on a whole process tree.

RLIMIT_NPROC does not bind root, and a double-forked daemon leaves its process group, so the
process count and the final sweep rely on a cgroup: every descendant of a member stays a member.
A group is created below the cgroup we run in (or at the hierarchy's top when that is writable).
On machines without a writable v1 hierarchy ``CGroup.create`` returns None and the caller notes
it (without one at all, ``grader.sandbox.facilities.has_cgroups``, it is not even tried).
``mark`` starts each child's accounting afresh, so a limit one child hit is not reported for the
next.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Set
from pathlib import Path

from grader.sandbox.facilities import CGROUP_ROOT
from grader.sandbox.uids import pause

ROOT = CGROUP_ROOT


def _own_path(controller: str) -> str:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return path.lstrip("/")
    except OSError:
        pass
    return ""


class CGroup:
    """One group in the ``pids`` and ``memory`` hierarchies."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs
        self._base: dict[str, int] | None = None  # counters at the last ``mark``
        self._peak_reset = True  # whether the last ``mark`` could reset the peak and failcnt

    @classmethod
    def create(cls, name: str, *, memory_bytes: int, max_processes: int) -> CGroup | None:
        dirs: dict[str, Path] = {}
        for controller in ("pids", "memory"):
            for parent in (ROOT / controller / _own_path(controller), ROOT / controller):
                group = parent / name
                try:
                    group.mkdir(exist_ok=True)
                    (group / "tasks").stat()
                except OSError:
                    continue
                dirs[controller] = group
                break
        if set(dirs) != {"pids", "memory"}:
            for group in dirs.values():
                _rmdir(group)
            return None
        made = cls(dirs)
        try:
            made._write("pids", "pids.max", str(max_processes))
            made._write("memory", "memory.limit_in_bytes", str(memory_bytes))
            swap = dirs["memory"] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))
        except OSError:
            made.remove()
            return None
        return made

    def _write(self, controller: str, key: str, value: str) -> None:
        (self.dirs[controller] / key).write_text(value)

    def join(self, pid: int) -> None:
        """Move ``pid`` into both groups (call in the child before exec, so descendants follow)."""
        for group in self.dirs.values():
            (group / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        out: set[int] = set()
        for group in self.dirs.values():
            try:
                out |= {int(p) for p in (group / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return out

    def kill_all(self, timeout: float = 5.0, spare: Set[int] = frozenset()) -> None:
        """SIGKILL every member but ``spare`` until none is left (new forks are caught on the
        next pass)."""
        end = time.monotonic() + timeout
        passes = 0
        while (members := self.pids() - spare) and time.monotonic() < end:
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            pause(passes)  # reading the members again is cheap: wait briefly first
            passes += 1

    def mark(self) -> None:
        """Start counting afresh: later ``memory_exhausted``/``pids_refused`` see only what
        happens from now on (call when a child starts; earlier children's hits do not count).

        cgroup v1 accepts a write of 0 to the peak and failure counters; the OOM-kill count and
        ``pids.events`` cannot be reset, so their current values become the baseline.
        """
        group = self.dirs["memory"]
        self._peak_reset = True
        for key in ("memory.max_usage_in_bytes", "memory.failcnt"):
            try:
                (group / key).write_text("0")
            except OSError:
                self._peak_reset = False  # peak and failcnt then stay history: compare to baseline
        self._base = self._counters()

    def _counters(self) -> dict[str, int]:
        out = {"oom_kill": 0, "failcnt": 0, "pids_max": 0}
        group = self.dirs["memory"]
        try:
            control = dict(
                line.split() for line in (group / "memory.oom_control").read_text().splitlines()
            )
            out["oom_kill"] = int(control.get("oom_kill", 0))
        except (OSError, ValueError):
            pass
        try:
            out["failcnt"] = int((group / "memory.failcnt").read_text())
        except (OSError, ValueError):
            pass
        try:
            text = (self.dirs["pids"] / "pids.events").read_text()
            out["pids_max"] = int(text.split()[1]) if text.startswith("max") else 0
        except (OSError, ValueError, IndexError):
            pass
        return out

    def memory_exhausted(self) -> bool:
        """Whether the group ran into its memory limit since ``mark`` (OOM kills, failed
        charges, or peak usage at the limit)."""
        base = self._base or {"oom_kill": 0, "failcnt": 0}
        now = self._counters()
        if now["oom_kill"] > base["oom_kill"] or now["failcnt"] > base["failcnt"]:
            return True
        if not self._peak_reset:
            return False  # the peak may be an earlier child's
        group = self.dirs["memory"]
        try:
            peak = int((group / "memory.max_usage_in_bytes").read_text())
            limit = int((group / "memory.limit_in_bytes").read_text())
        except (OSError, ValueError):
            return False
        return peak >= limit

    def pids_refused(self) -> int:
        """How many forks the pids limit refused since ``mark``."""
        base = self._base or {"pids_max": 0}
        return max(self._counters()["pids_max"] - base["pids_max"], 0)

    def remove(self) -> None:
        for group in self.dirs.values():
            _rmdir(group)


def _rmdir(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
