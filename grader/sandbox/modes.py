"""Which isolation modes work on this machine, and which one a request for a mode gets.

``bwrap`` (bubblewrap namespaces) is probed once per process; ``process`` (no namespaces) always
works but must be asked for: ``auto`` never silently runs student code without isolation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

from grader.errors import SandboxUnavailable

__all__ = ["available_modes", "resolve_mode"]


@cache
def _bwrap_problem() -> str | None:
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [exe, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net"]
    probe += ["--proc", "/proc", "--dev", "/dev", "true"]
    try:
        # The probe runs our own fixed command line, with bwrap found on PATH as it will be later.
        done = subprocess.run(probe, capture_output=True, timeout=20, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not start: {exc}"
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()[:200]
        return f"bwrap cannot create namespaces here: {stderr}"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is needed to drop privileges inside bwrap"
    return None


def available_modes() -> dict[str, str | None]:
    """Each mode and whether it works here.

    Returns:
        Mode -> None when usable, else the reason it is not.
    """
    return {"bwrap": _bwrap_problem(), "process": None}


def resolve_mode(requested: str) -> str:
    """The mode to run in: ``auto`` -> ``bwrap`` when usable.

    Args:
        requested: ``auto``, ``bwrap`` or ``process``.

    Returns:
        ``bwrap`` or ``process``.

    Raises:
        SandboxUnavailable: The mode is unknown, or bwrap is needed and does not work here.
    """
    if requested not in ("auto", "bwrap", "process"):
        raise SandboxUnavailable(f"unknown sandbox mode {requested!r} (auto, bwrap, process)")
    if requested == "process":
        return "process"
    problem = _bwrap_problem()
    if problem is not None:
        raise SandboxUnavailable(
            f"cannot isolate student code: {problem}. Install bubblewrap, or pass "
            "--sandbox process to run without isolation (reports will say so)"
        )
    return "bwrap"
