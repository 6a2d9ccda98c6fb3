"""Starting and stopping a submission's processes.

Modes:
    bwrap    bubblewrap namespaces (pid, net, ipc, uts, mount): no network; the filesystem holds
             only /usr-style system dirs, the Python runtime and numpy by exact path, the grader's
             child runtime and the workspace read-only, and a private writable scratch directory.
    process  no namespaces (every report says isolation was off); limits and the uid drop still apply.

In both modes, when we are root, the code runs as a dedicated unprivileged uid (61000 + slot, one
per live sandbox, claimed with a lock file) so that kill(-1) or a fork bomb cannot touch the
grader, and inside a cgroup that caps memory and processes and lets ``kill_all`` find
double-forked daemons. Without root there is no uid drop and no cgroup: rlimits and the process
group remain, and ``limit_notes`` says so.
"""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import IO

from grader.errors import GraderError
from grader.sandbox.cgroup import CGroup
from grader.sandbox.limits import Limits

UID_BASE = 61000
UID_SLOTS = 1000
LOCK_DIR = Path("/run/nngrader") if os.access("/run", os.W_OK) else Path("/tmp/nngrader-locks")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache",
               "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")


class SandboxUnavailable(GraderError):
    """The requested isolation cannot be provided on this machine."""


@cache
def _bwrap_problem() -> str | None:
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [exe, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not start: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot create namespaces here: {done.stderr.decode(errors='replace').strip()[:200]}"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is needed to drop privileges inside bwrap"
    return None


def available_modes() -> dict[str, str | None]:
    """Mode -> None when usable, else the reason it is not."""
    return {"bwrap": _bwrap_problem(), "process": None}


def resolve_mode(requested: str) -> str:
    """``auto`` -> ``bwrap`` when usable; grading never silently runs without isolation."""
    if requested not in ("auto", "bwrap", "process"):
        raise SandboxUnavailable(f"unknown sandbox mode {requested!r} (auto, bwrap, process)")
    if requested == "process":
        return "process"
    problem = _bwrap_problem()
    if problem is not None:
        raise SandboxUnavailable(f"cannot isolate student code: {problem}. Install bubblewrap, or pass "
                                 "--sandbox process to run without isolation (reports will say so)")
    return "bwrap"


def runtime_paths() -> list[Path]:
    """The Python installation and the directories numpy imports from (exact paths)."""
    import numpy

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(numpy.__file__).resolve().parent.parent,
             Path(os.path.realpath(sys.executable)).parent}
    return sorted(p for p in paths if p.exists())


def numpy_path() -> list[str]:
    """Directories to put on PYTHONPATH: the one numpy is installed in (children run without site)."""
    import numpy

    return [str(Path(numpy.__file__).resolve().parent.parent)]


class Sandbox:
    """One submission's sandbox (a context manager)."""

    def __init__(self, *, mode: str, workspace: Path, scratch: Path, ro_paths: Sequence[Path],
                 limits: Limits, env: Mapping[str, str] | None = None) -> None:
        self.isolation = resolve_mode(mode)
        self.limits = limits
        self.workspace = Path(workspace).resolve()
        self.scratch = Path(scratch).resolve()
        self.ro_paths = [Path(p).resolve() for p in ro_paths]
        self.limit_notes: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.exit_codes: list[int] = []
        self.uid: int | None = None
        self._lock: IO[str] | None = None
        self.cgroup: CGroup | None = None
        if os.geteuid() == 0:
            self._claim_uid()
            self.cgroup = CGroup.create(f"nngrader-{self.uid}", memory_bytes=limits.memory_bytes,
                                        max_processes=limits.max_processes)
            if self.cgroup is None:
                self.limit_notes.append("no writable cgroup v1 pids/memory hierarchy: memory is limited per "
                                        "process (RLIMIT_AS) and processes only per uid (RLIMIT_NPROC)")
            self._grant_access()
        else:
            self.limit_notes.append("not running as root: student code runs as the grader's own user, "
                                    "without a cgroup (rlimits and the process group still apply)")
        self.env = self._environment(env or {})

    # -- setup ----------------------------------------------------------------------------------

    def _claim_uid(self) -> None:
        LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
            handle = open(LOCK_DIR / f"uid-{uid}.lock", "w")  # noqa: SIM115 - held for the sandbox's life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.uid, self._lock = uid, handle
            _kill_uid(uid)  # anything left by a grader that crashed before cleaning up
            return
        raise SandboxUnavailable("no free sandbox uid")

    def _grant_access(self) -> None:
        """Let the sandbox uid write scratch and read the workspace and runtime."""
        uid = self.uid if self.uid is not None else os.geteuid()
        os.chown(self.scratch, uid, uid)
        self.scratch.chmod(0o700)
        for top in (self.workspace, *self.ro_paths):
            for path in (top, *top.rglob("*")):
                mode = path.lstat().st_mode
                if stat.S_ISDIR(mode):
                    path.chmod(mode | 0o555)
                elif stat.S_ISREG(mode):
                    path.chmod(mode | 0o444)
        for path in (self.workspace, self.scratch, *self.ro_paths):
            _grant_search(path)  # our own temporary folders
        granted: set[str] = set()
        if self.isolation == "process":  # bwrap re-creates parents itself; a plain process needs the real ones
            for path in runtime_paths():
                granted |= _grant_search(path)
        if granted:
            self.limit_notes.append(f"granted search permission (o+x) on {', '.join(sorted(granted))} so that "
                                    "the unprivileged sandbox uid can reach the Python runtime")

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.scratch), "TMPDIR": str(self.scratch),
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
               # Python finds its prefix from PYTHONHOME once it runs as another uid.
               "PYTHONHOME": sys.base_prefix}
        env["PYTHONPATH"] = os.pathsep.join(numpy_path())
        env.update({var: str(self.limits.threads) for var in THREAD_VARS})
        env.update(extra)
        return env

    # -- processes ------------------------------------------------------------------------------

    def spawn(self, argv: Sequence[str], *, pass_fds: Sequence[int] = (), stdout_path: Path) -> subprocess.Popen[bytes]:
        """Start one process tree in a fresh session, with the limits applied before exec."""
        command = list(argv)
        if self.isolation == "bwrap":
            command = self._bwrap_prefix() + command
        with open(stdout_path, "ab") as out:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    pass_fds=tuple(pass_fds), env=self.env, cwd=self.scratch,
                                    start_new_session=True, preexec_fn=self._preexec)  # noqa: PLW1509
        self.procs.append(proc)
        return proc

    def _bwrap_prefix(self) -> list[str]:
        args = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session",
                "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        made: set[Path] = {Path("/"), Path("/tmp"), Path("/proc"), Path("/dev")}

        def parents(path: Path) -> None:
            for parent in reversed(path.parents):
                if parent not in made:
                    args.extend(["--perms", "0755", "--dir", str(parent)])
                    made.add(parent)

        for system in SYSTEM_DIRS:
            if os.path.exists(system):
                parents(Path(system))
                args.extend(["--ro-bind", system, system])
                made.add(Path(system))
        for path in (*runtime_paths(), *self.ro_paths, self.workspace):
            parents(path)
            args.extend(["--ro-bind", str(path), str(path)])
            made.add(path)
        parents(self.scratch)
        args.extend(["--bind", str(self.scratch), str(self.scratch), "--chdir", str(self.scratch), "--"])
        if self.uid is not None:
            args.extend([shutil.which("setpriv") or "setpriv", f"--reuid={self.uid}", f"--regid={self.uid}",
                         "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"])
        return args

    def _preexec(self) -> None:
        """Runs in the child between fork and exec: cgroup, rlimits, then (process mode) the uid drop."""
        if self.cgroup is not None:
            self.cgroup.join(os.getpid())
        lim = self.limits
        resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_NOFILE, (lim.max_open_files, lim.max_open_files))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim.max_file_bytes, lim.max_file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self.cgroup is None:
            resource.setrlimit(resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes))
        if self.uid is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (lim.max_processes, lim.max_processes))
            if self.isolation == "process":
                os.setgroups([])
                os.setgid(self.uid)
                os.setuid(self.uid)

    def kill_all(self) -> None:
        """Kill every process of this submission, daemons that left the process group included."""
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
        if self.uid is not None:
            _kill_uid(self.uid)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.exit_codes += [p.returncode for p in self.procs if p.returncode is not None]
        self.procs = [p for p in self.procs if p.returncode is None]

    def limit_hit(self) -> str | None:
        """Which limit most likely stopped the last process (None when none did)."""
        lim = self.limits
        if self.cgroup is not None and self.cgroup.memory_exhausted():
            return f"memory limit ({lim.memory_bytes / 2**20:.0f} MiB) exceeded"
        if self.cgroup is not None and self.cgroup.pids_refused():
            return f"process limit ({lim.max_processes}) reached"
        codes = self.exit_codes + [p.returncode for p in self.procs if p.returncode is not None]
        sig = next((-c if c < 0 else c - 128 for c in reversed(codes) if c < 0 or c > 128), None)
        if sig == signal.SIGXCPU:
            return f"CPU time limit ({lim.cpu_seconds} s) exceeded"
        if sig == signal.SIGXFSZ:
            return f"file size limit ({lim.max_file_bytes / 2**20:.0f} MiB, printed output included) exceeded"
        return None

    def close(self) -> None:
        """Kill everything, remove the cgroup and release the uid (idempotent)."""
        self.kill_all()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _grant_search(path: Path) -> set[str]:
    """Add search permission (o+x, never read) to every parent of ``path`` lacking it."""
    granted = set()
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
            granted.add(str(parent))
    return granted


def _kill_uid(uid: int, timeout: float = 5.0) -> None:
    """SIGKILL every live process whose real uid is ``uid`` (used by nothing but the sandbox)."""
    end = time.monotonic() + timeout
    while (pids := processes_of(uid)) and time.monotonic() < end:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real uid is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1 ").split()[0]) == uid and not fields.get("State", "").strip().startswith(("Z", "X")):
            found.append(int(entry))
    return found
