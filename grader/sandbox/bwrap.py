"""The bubblewrap command line that wraps a child in bwrap mode (``bwrap_args``).

The child sees a filesystem of exact read-only paths (system dirs, the Python runtime, the
grader's child runtime, the workspace), every package folder masked by an empty tmpfs into which
only numpy and the course's declared packages are bound back (``grader.sandbox.paths``), a
private /tmp, and its writable scratch folder; pid, net, ipc and uts namespaces are new. As root,
``setpriv`` then drops to the sandbox uid inside the namespaces. bwrap loads a seccomp filter
(``--seccomp FD``, see ``grader.sandbox.seccomp``) just before it execs the command. Where bwrap
knows ``--size`` the private /tmp is size-limited; without root, scratch may be such a tmpfs too
(``grader.sandbox.scratch``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from grader.sandbox.paths import SYSTEM_DIRS, numpy_dirs, runtime_paths, site_dirs

__all__ = ["SANDBOX_TMP", "bwrap_args"]

SANDBOX_TMP = "/tmp"  # noqa: S108 - inside the sandbox: an empty tmpfs, not the host's /tmp


def bwrap_args(
    *,
    workspace: Path,
    scratch: Path,
    ro_paths: Sequence[Path],
    uid: int | None,
    tmpfs_bytes: int | None = None,
    scratch_tmpfs: bool = False,
    seccomp_fd: int | None = None,
    packages: Sequence[Path] = (),
) -> list[str]:
    """The ``bwrap ... --`` prefix (and the uid drop) to put before the child's argv.

    Args:
        workspace: The staged submission (bound read-only).
        scratch: The child's writable folder (bound read-write; also its cwd).
        ro_paths: Further folders bound read-only (the child runtime).
        uid: The sandbox uid to drop to inside the namespaces, or None (not root).
        tmpfs_bytes: The size of the tmpfs bwrap mounts (``--size``; None: bwrap lacks it).
        scratch_tmpfs: Scratch is such a tmpfs of bwrap's, not the host folder (not root).
        seccomp_fd: A readable fd holding the seccomp filter (``--seccomp``), or None.
        packages: The host paths of the packages the child may import (``ChildPackages``);
            numpy's when empty.
    """
    size = ["--size", str(tmpfs_bytes)] if tmpfs_bytes is not None else []
    args = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session"]
    args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--proc", "/proc", "--dev", "/dev"]
    args += [*size, "--tmpfs", SANDBOX_TMP]
    made: set[Path] = {Path("/"), Path(SANDBOX_TMP), Path("/proc"), Path("/dev")}
    bound: list[Path] = []  # inside a bind the folders exist already (and are read-only)

    def parents(path: Path) -> None:
        for parent in reversed(path.parents):
            if parent not in made and not any(parent.is_relative_to(b) for b in bound):
                args.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(parent)

    def bind(path: Path) -> None:
        parents(path)
        args.extend(["--ro-bind", str(path), str(path)])
        made.add(path)
        bound.append(path)

    systems = [Path(s) for s in SYSTEM_DIRS if os.path.exists(s)]
    for path in (*systems, *runtime_paths(), *ro_paths, workspace):
        bind(path)
    # Mask every package folder after the binds that expose it (installed nngrader's
    # reference/ and assignments/, an editable finder naming the checkout, any other
    # package), then bind numpy and the course's packages back into their own, now empty, site
    # folders.
    masked = site_dirs([*systems, *runtime_paths()])
    for site in masked:
        parents(site)
        args.extend(["--perms", "0755", "--tmpfs", str(site)])
        made.add(site)
    for path in packages or numpy_dirs():
        parents(path)  # nothing to make when its site folder is masked (made) already
        args.extend(["--ro-bind", str(path), str(path)])
    for site in masked:
        args.extend(["--remount-ro", str(site)])
    parents(scratch)
    if scratch_tmpfs:
        args.extend(["--perms", "0700", *size, "--tmpfs", str(scratch)])
    else:
        args.extend(["--bind", str(scratch), str(scratch)])
    if seccomp_fd is not None:
        args.extend(["--seccomp", str(seccomp_fd)])
    args.extend(["--chdir", str(scratch), "--"])
    if uid is not None:
        args.append(shutil.which("setpriv") or "setpriv")
        # --no-new-privs: the whole tree below, whatever bwrap sets (and the gate sets nothing).
        args.extend([f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"])
        args.extend(["--inh-caps=-all", "--bounding-set=-all", "--"])
    return args
