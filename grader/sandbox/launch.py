"""Starting and stopping a submission's processes (``Sandbox``).

Modes (``grader.sandbox.modes``):
    bwrap    bubblewrap namespaces (pid, net, ipc, uts, mount): no network; the filesystem holds
             only /usr-style system dirs, the Python runtime and numpy by exact path, the grader's
             child runtime and the workspace read-only, and a private writable scratch directory.
             Every site-packages/dist-packages folder in there is masked by an empty tmpfs into
             which only numpy (and its vendored ``numpy.libs``) is bound back: an installed
             nngrader (``reference``, ``assignments``, an editable finder naming the checkout) or
             any other package stays out of reach (``grader.sandbox.paths``).
    process  no namespaces (every report says isolation was off); limits, no-new-privileges and the
             uid drop still apply, and PYTHONPATH is a staged folder holding only links to numpy.

In both modes, when we are root, the code runs as a dedicated unprivileged uid
(``grader.sandbox.uids``) so that kill(-1) or a fork bomb cannot touch the grader, and inside a
cgroup that caps memory and processes and lets ``kill_all`` find double-forked daemons. Without
root there is no uid drop and no cgroup: rlimits and the process group remain, and
``limit_notes`` says so. Where a facility is missing (``grader.sandbox.facilities``: prctl, the
resource or fcntl module, cgroups, /proc) only its own protections are dropped, named in one note.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import grader.sandbox.facilities as facilities
from grader.sandbox.access import NOT_KEPT_APART, grant_access
from grader.sandbox.bwrap import bwrap_args
from grader.sandbox.cgroup import CGroup
from grader.sandbox.environment import THREAD_VARS, child_environment
from grader.sandbox.facilities import is_root, prctl
from grader.sandbox.features import bwrap_is_setuid, bwrap_supports
from grader.sandbox.gate import child_rlimits, gate_usable, set_rlimits, spawn_gated
from grader.sandbox.leftovers import sweep_leftovers
from grader.sandbox.limits import Limits
from grader.sandbox.modes import resolve_mode
from grader.sandbox.packages import ChildPackages
from grader.sandbox.reaping import reap_adopted
from grader.sandbox.scratch import ScratchDisk
from grader.sandbox.seccomp import SeccompFilter, filter_pipe, userns_filter
from grader.sandbox.uids import claim_uid, kill_uid, release_uid, settle_uid

__all__ = ["THREAD_VARS", "Sandbox"]

PR_SET_NO_NEW_PRIVS = 38
REAP_SECONDS = 30  # a SIGKILLed process exits unless stuck in the kernel: wait, but not forever


class Sandbox:
    """One submission's sandbox (a context manager)."""

    def __init__(
        self,
        *,
        mode: str,
        workspace: Path,
        scratch: Path,
        ro_paths: Sequence[Path],
        limits: Limits,
        env: Mapping[str, str] | None = None,
        packages: Sequence[str] = (),
        data: Sequence[Path] = (),
    ) -> None:
        """Claim a uid and a cgroup (as root) and open up the folders the child needs.

        Args:
            mode: ``auto``, ``bwrap`` or ``process`` (see ``resolve_mode``).
            workspace: The staged submission, read-only for the child.
            scratch: The child's writable folder (its cwd, HOME and TMPDIR).
            ro_paths: Further folders the child reads (the child runtime).
            limits: The limits to apply to every process.
            env: Variables added to the child's clean environment.
            packages: Distributions the child may import besides numpy (a spec's runtime).
            data: Host files bound read-only at their own path (bwrap), their permissions left
                as they are (an instructor's data, e.g. ``--data``'s training batches).

        Raises:
            SandboxUnavailable: The mode cannot be provided, no sandbox uid is free, or a
                declared package is not installed.
        """
        self.isolation = resolve_mode(mode)
        self.packages = ChildPackages(packages)  # before a uid is claimed: it may refuse
        self.limits = limits
        self.workspace = Path(workspace).resolve()
        self.scratch = Path(scratch).resolve()
        self.ro_paths = [Path(p).resolve() for p in ro_paths]
        self.data = [Path(p).resolve() for p in data]
        self.limit_notes: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.uid: int | None = None
        self._lock: IO[str] | None = None
        self._latest: subprocess.Popen[bytes] | None = None
        self._settled = True  # nothing started yet (see ``kill_all``)
        self.cgroup: CGroup | None = None
        # bwrap sets no-new-privileges for the sandboxed tree itself; setting it before exec would
        # only stop a setuid-root bwrap (unprivileged machines) from getting its privileges. Looked
        # up now: nothing is loaded between fork and exec. None: no prctl here (noted below).
        setuid_bwrap = self.isolation == "bwrap" and bwrap_is_setuid()
        self._prctl = None if setuid_bwrap else prctl()
        self.limit_notes.extend(facilities.notes(root=is_root(), isolation=self.isolation))
        if is_root():
            self._claim_uid_and_cgroup()
        elif self.isolation == "process":
            self.limit_notes.append(NOT_KEPT_APART)
        self.env = child_environment(
            scratch=self.scratch,
            pythonpath=self.packages.pythonpath(self.isolation),
            threads=limits.threads,
            extra=env or {},
        )
        self._limit_disk_and_userns()
        self._rlimits = child_rlimits(
            limits, cgroup=self.cgroup is not None, uid=self.uid is not None
        )
        # As root, bwrap's setpriv sets no-new-privileges below it: no pre-exec needed (``gate``).
        self._gated = self.isolation == "bwrap" and self.uid is not None and gate_usable()

    # -- setup ----------------------------------------------------------------------------------

    def _claim_uid_and_cgroup(self) -> None:
        """As root: a sandbox uid and a cgroup, each where this machine's facilities allow."""
        if facilities.uid_drop():
            self.uid, self._lock = claim_uid()
            # Let the sandbox uid write scratch and read the workspace and runtime.
            self.limit_notes.extend(
                grant_access(
                    isolation=self.isolation,
                    uid=self.uid,
                    workspace=self.workspace,
                    scratch=self.scratch,
                    ro_paths=self.ro_paths,
                    packages=self.packages.paths,
                )
            )
        if not facilities.has_cgroups():
            return  # the note on missing facilities says so
        # Without a uid (no fcntl or /proc) the group is named after this process instead.
        owner = self.uid if self.uid is not None else f"p{os.getpid()}-{id(self)}"
        self.cgroup = CGroup.create(
            f"nngrader-{owner}",
            memory_bytes=self.limits.memory_bytes,
            max_processes=self.limits.max_processes,
        )
        if self.cgroup is None:
            fallback = "memory is limited per process (RLIMIT_AS) and processes only per uid "
            fallback += "(RLIMIT_NPROC)" if facilities.has_resource() else "(no rlimits either)"
            self.limit_notes.append(f"no writable cgroup v1 pids/memory hierarchy: {fallback}")

    def _limit_disk_and_userns(self) -> None:
        """Make scratch a limited tmpfs (``ScratchDisk``) and prepare the seccomp filter that
        blocks user namespaces (``grader.sandbox.seccomp``); note what this machine lacks."""
        bwrap = self.isolation == "bwrap"
        self.disk = ScratchDisk.open(
            self.scratch,
            limits=self.limits,
            # As root without a sandbox uid (no fcntl or /proc) the child runs as root: its tmpfs.
            uid=self.uid if self.uid is not None or not is_root() else 0,
            isolation=self.isolation,
            bwrap_size=bwrap and bwrap_supports("--size"),
        )
        # Process mode installs the filter itself, through prctl: without it the note on missing
        # facilities already says that user namespaces are not blocked.
        loader = bwrap_supports("--seccomp") if bwrap else self._prctl is not None
        self._seccomp = userns_filter() if loader else None
        self._filter = SeccompFilter(self._seccomp) if self._seccomp and not bwrap else None
        self.limit_notes.extend([self.disk.note] if self.disk.note else [])
        if self._seccomp is None and (bwrap or self._prctl is not None):
            self.limit_notes.append("user namespaces are not blocked (no seccomp filter here)")

    def spawn(
        self,
        argv: Sequence[str],
        *,
        pass_fds: Sequence[int] = (),
        stdout_path: Path,
        stdio: tuple[int, int] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start one process tree in a fresh session, with the limits applied before exec.

        Args:
            argv: The command to run inside the sandbox.
            pass_fds: File descriptors the child inherits (the protocol's pipes).
            stdout_path: The file that collects the child's stdout and stderr (appended to).
            stdio: The child's stdin and stdout instead, its stderr alone then going to
                ``stdout_path`` (the protocol's pipes where none can be passed: ``channel``).

        Returns:
            The started process (bwrap's outer process in bwrap mode).
        """
        command, fds = list(argv), list(pass_fds)
        bwrap = self.isolation == "bwrap"
        self._settled = False
        if self.cgroup is not None:
            self.cgroup.mark()  # only limits hit by this child are reported for it
        # bwrap reads the seccomp filter from a pipe, one per spawn (process mode: _preexec).
        with open(stdout_path, "ab") as out, filter_pipe(self._seccomp if bwrap else None) as fd:
            if bwrap:
                command = self._bwrap_prefix(fd) + command
                fds += [] if fd is None else [fd]
            # The gate takes its go from stdin: a child talking on its stdin is never gated.
            if self._gated and stdio is None:  # the cgroup and rlimits from outside, before bwrap
                proc = spawn_gated(
                    command,
                    prepare=self._prepare,
                    stdout=out,
                    pass_fds=fds,
                    env=self.env,
                    cwd=self.scratch,
                )
            else:  # the cgroup, the rlimits and the uid drop between fork and exec
                # Windows has neither sessions nor a pre-exec (Popen refuses a preexec_fn there).
                posix = facilities.process_groups()
                stdin, stdout, stderr = (
                    (subprocess.DEVNULL, out, subprocess.STDOUT) if stdio is None else (*stdio, out)
                )
                proc = subprocess.Popen(  # noqa: S603 - our own command; what it runs is contained
                    command,
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=tuple(fds),
                    env=self.env,
                    cwd=self.scratch,
                    start_new_session=posix,
                    preexec_fn=self._preexec if posix else None,
                )
        self.procs.append(proc)
        self._latest = proc
        return proc

    def _prepare(self, pid: int) -> None:
        """What ``_preexec`` does in the child, done from outside to a gated one (``gate``)."""
        if self.cgroup is not None:
            self.cgroup.join(pid)
        set_rlimits(self._rlimits, pid)

    def _bwrap_prefix(self, seccomp_fd: int | None) -> list[str]:
        return bwrap_args(
            workspace=self.workspace,
            scratch=self.scratch,
            ro_paths=[*self.ro_paths, *self.data],
            uid=self.uid,
            tmpfs_bytes=self.limits.disk_bytes if bwrap_supports("--size") else None,
            scratch_tmpfs=self.disk.in_bwrap,
            seccomp_fd=seccomp_fd,
            packages=self.packages.paths,
        )

    def _preexec(self) -> None:
        """Runs in the child between fork and exec: cgroup, rlimits, no-new-privileges, then
        (process mode) the uid drop."""
        if self.cgroup is not None:
            self.cgroup.join(os.getpid())
        set_rlimits(self._rlimits)
        # No setuid/setcap binary may give the student's code back what the uid drop took away.
        if self._prctl is not None and self._prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if self._filter is not None:  # process mode (bwrap loads the filter itself)
            self._filter.install()
        if self.isolation == "process":
            os.umask(0o077)  # what it creates in the shared /tmp is private unless it chmods it
            if self.uid is not None:
                os.setgroups([])
                os.setgid(self.uid)
                os.setuid(self.uid)

    def kill_all(self) -> None:
        """Kill every process of this submission, daemons that left the process group included.

        A call that leaves nothing behind (no live or unreaped process of the uid, an empty
        cgroup, every process we started waited for) makes the next calls return at once until
        the next ``spawn``: nothing else starts a process as the sandbox uid or in its cgroup, so
        there is nothing new to find (``Session.stop`` and ``close`` both call this).
        """
        if self._settled:
            return
        # Everything below our own children first: bwrap's outer process then reaps the namespace
        # (whose init reaps the rest) and exits by itself, instead of leaving its init to the
        # machine's init, whose late reaping would hold pids.max and RLIMIT_NPROC (see
        # ``settle_uid``). Every process of the uid is in the cgroup (it cannot leave it), so
        # the uid is searched here only without one; ``_settle`` searches it in any case.
        direct = {proc.pid for proc in self.procs if proc.poll() is None}
        if self.cgroup is not None:
            self.cgroup.kill_all(spare=direct)
        elif self.uid is not None:
            kill_uid(self.uid, spare=direct)
        for proc in self.procs:
            if self.isolation == "bwrap" and (self.cgroup is not None or self.uid is not None):
                try:
                    proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
            _kill_group(proc)
        if self.cgroup is not None:
            self.cgroup.kill_all()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs = [p for p in self.procs if p.returncode is None]
        self._settled = self._settle()

    def _settle(self) -> bool:
        """Kill what is left of the uid and wait until init has reaped it (``settle_uid``).

        Returns:
            Whether nothing of this sandbox is left (see ``kill_all``).
        """
        settled = not self.procs
        if self.uid is not None:
            settled = settle_uid(self.uid) and settled
        if self.cgroup is not None:
            settled = settled and not self.cgroup.pids()
        return settled

    def limit_hit(self) -> str | None:
        """Which limit most likely stopped the latest process.

        Only what happened since that process started counts: the cgroup's counters are reset (or
        a baseline taken) at each spawn, and earlier processes' exit codes are not looked at.

        Returns:
            The limit's report message, or None when no limit did.
        """
        lim = self.limits
        if self.cgroup is not None and self.cgroup.memory_exhausted():
            return lim.memory_message()
        if self.cgroup is not None and self.cgroup.pids_refused():
            return lim.processes_message()
        code = self._latest.poll() if self._latest is not None else None
        sig = None if code is None else (-code if code < 0 else code - 128 if code > 128 else None)
        # Windows has neither signal (nor rlimits to send them): getattr gives a number no
        # signal has.
        if sig == getattr(signal, "SIGXCPU", -1):
            return lim.cpu_message()
        if sig == getattr(signal, "SIGXFSZ", -1):  # a non-Python child (Python raises EFBIG)
            return lim.file_size_message()
        return None

    def close(self) -> None:
        """Kill everything, remove the cgroup, sweep the uid's leftovers and release the uid
        (idempotent)."""
        self.kill_all()
        self._reap()
        self.disk.close()  # before the cgroup goes: the tmpfs pages are charged to it
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self._lock is not None:
            clean = self._settled
            if self.uid is not None:  # its processes are dead: its files in /tmp etc. go too
                unfinished = sweep_leftovers(self.uid, keep=self._own_folders())
                self.limit_notes.extend(unfinished)
                clean = clean and not unfinished
            release_uid(self._lock, clean=clean)  # unclean: the next claim sweeps again
            self._lock = None
        self.packages.close()

    def _reap(self) -> None:
        """Wait for every process we started (all SIGKILLed by now) and for the bwrap inits we
        adopted (``reap_adopted``), so that none is left a zombie of the grading process."""
        for proc in self.procs:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=REAP_SECONDS)
        self.procs = [p for p in self.procs if p.returncode is None]
        reap_adopted(self.uid)

    def _own_folders(self) -> list[Path]:
        """Folders given to the sandbox, which the sweep of shared folders must never remove."""
        return [self.workspace, self.scratch, *self.ro_paths]

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc``'s process group, which it leads (``spawn``); just ``proc`` where there
    are no process groups (Windows)."""
    try:
        if facilities.process_groups():
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
