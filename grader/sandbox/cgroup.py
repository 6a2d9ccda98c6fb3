"""cgroup v1 pids and memory groups: limits the kernel enforces on a whole process tree.

RLIMIT_NPROC does not bind root, and a double-forked daemon leaves its process group, so the
process count and the final sweep rely on a cgroup: every descendant of a member stays a member.
A group is created below the cgroup we run in (or at the hierarchy's top when that is writable).
On machines without a writable v1 hierarchy ``CGroup.create`` returns None and the caller notes it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


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

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every member until none is left (new forks are caught on the next pass)."""
        end = time.monotonic() + timeout
        while (members := self.pids()) and time.monotonic() < end:
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def memory_exhausted(self) -> bool:
        """Whether the group ran into its memory limit (OOM kills, failed charges, or peak usage)."""
        group = self.dirs["memory"]
        try:
            control = dict(line.split() for line in (group / "memory.oom_control").read_text().splitlines())
            if int(control.get("oom_kill", 0)) > 0:
                return True
            if int((group / "memory.failcnt").read_text()) > 0:
                return True
            peak = int((group / "memory.max_usage_in_bytes").read_text())
            limit = int((group / "memory.limit_in_bytes").read_text())
            return peak >= limit
        except (OSError, ValueError):
            return False

    def pids_refused(self) -> int:
        try:
            text = (self.dirs["pids"] / "pids.events").read_text()
            return int(text.split()[1]) if text.startswith("max") else 0
        except (OSError, ValueError, IndexError):
            return 0

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
