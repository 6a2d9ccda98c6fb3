"""The rlimits every child gets (``child_rlimits``), and starting one without forking the grading
process (``spawn_gated``).

Python runs a ``preexec_fn`` between fork and exec, so a spawn that needs one forks the whole
grading process (its page tables, then copy-on-write faults on both sides) instead of using
vfork: 5 to 8 ms per child measured here (``bench/sandbox_start.py``), twice per submission and
again after every crash. In bwrap mode as root the pre-exec only joins the cgroup, sets rlimits
and no-new-privileges, and all of that can be done from outside the child:

* the child starts as ``/bin/sh`` blocked reading a pipe (``GATE``), by vfork;
* the grading process moves it into the cgroup and sets its rlimits (prlimit(2)) while it waits;
* only then does it write ``go``, and the shell execs bwrap (stdin from /dev/null).

Until the gate opens the shell runs nothing, so bwrap and everything below it start inside the
cgroup with every limit, as before. If a step fails, or the grading process dies meanwhile, the
pipe closes without ``go`` and the shell exits without running anything. No-new-privileges, which
the pre-exec set on bwrap itself, is set by the uid drop inside (``setpriv --no-new-privs``) on
the student's whole tree, and by bwrap. Process mode, and bwrap without root, keep the pre-exec:
there the child drops its uid or installs its seccomp filter itself.

Without the ``resource`` module (Windows, or simulated: ``grader.sandbox.facilities``) there are
no rlimits: ``child_rlimits`` is empty and ``set_rlimits`` never needs the module.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from grader.sandbox.facilities import has_resource
from grader.sandbox.limits import Limits

__all__ = ["GATE", "NPROC_MARGIN", "SHELL", "child_rlimits", "set_rlimits", "spawn_gated"]

SHELL = "/bin/sh"
GATE = 'read -r go && [ "$go" = go ] && exec "$@" </dev/null'
"""The shell's whole script: wait for ``go`` on stdin, then become the command."""
NPROC_MARGIN = 4
"""RLIMIT_NPROC above the cgroup's pids.max, so that the cgroup refuses first."""

Rlimit = tuple[int, tuple[int, int]]


def child_rlimits(limits: Limits, *, cgroup: bool, uid: bool) -> list[Rlimit]:
    """The rlimits of a child: ``(resource, (soft, hard))`` in the order they are set.

    Args:
        limits: The submission's limits.
        cgroup: A cgroup limits memory and processes (else RLIMIT_AS does, per process).
        uid: The child runs as a sandbox uid, whose process count RLIMIT_NPROC bounds.

    Returns:
        The rlimits; none without the ``resource`` module.
    """
    if not has_resource():
        return []
    import resource  # here: Windows has no such module

    out = [
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files)),
        (resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if not cgroup:
        out.append((resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes)))
    if uid:
        # With a cgroup, pids.max is the limit (it counts the whole tree and its refusals are
        # visible, so the report can name the limit); RLIMIT_NPROC is only the backstop.
        nproc = limits.max_processes + (NPROC_MARGIN if cgroup else 0)
        out.append((resource.RLIMIT_NPROC, (nproc, nproc)))
    return out


def set_rlimits(rlimits: Sequence[Rlimit], pid: int | None = None) -> None:
    """Apply ``rlimits`` (from ``child_rlimits``) to this process, or to ``pid`` from outside."""
    if not rlimits:
        return  # the only way without the resource module: ``child_rlimits`` gave none
    import resource

    for which, value in rlimits:
        if pid is None:
            resource.setrlimit(which, value)
        else:
            resource.prlimit(pid, which, value)


def gate_usable() -> bool:
    """Whether the shell the gate needs is there."""
    return Path(SHELL).is_file() and os.access(SHELL, os.X_OK)


def spawn_gated(
    argv: Sequence[str],
    *,
    prepare: Callable[[int], None],
    stdout: IO[bytes],
    pass_fds: Sequence[int],
    env: Mapping[str, str],
    cwd: Path,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` behind the gate, in a new session: ``prepare(pid)`` runs before it execs.

    Returns:
        The started process (the shell, which becomes ``argv[0]`` once the gate opens).

    Raises:
        Whatever ``prepare`` raised (the shell is killed and waited for first), or OSError.
    """
    gate_r, gate_w = os.pipe()
    try:
        proc = subprocess.Popen(  # noqa: S603 - our own shell and script; argv is ours too
            [SHELL, "-c", GATE, "nngrader-gate", *argv],
            stdin=gate_r,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            pass_fds=tuple(pass_fds),
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException:
        os.close(gate_w)
        raise
    finally:
        os.close(gate_r)
    try:
        prepare(proc.pid)
        os.write(gate_w, b"go\n")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        os.close(gate_w)
    return proc
