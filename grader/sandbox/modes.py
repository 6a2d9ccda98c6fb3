"""Which isolation modes work on this machine, and which one a request for a mode gets.

``bwrap`` (bubblewrap namespaces) is probed once per process; ``process`` (no namespaces) always
works but must be asked for: ``auto`` never silently runs student code without isolation.
``best`` (the student kit's default: the student's own code on the student's own machine) takes
bwrap where it works and otherwise ``process``, never an error; ``fallback_note`` is then the
report's one note saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

from grader.errors import SandboxUnavailable
from grader.sandbox.facilities import is_root

__all__ = ["REQUESTS", "available_modes", "fallback_note", "resolve_mode"]

REQUESTS = ("auto", "best", "bwrap", "process")
"""What a caller may ask for (``--sandbox``)."""


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
    if is_root() and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is needed to drop privileges inside bwrap"
    return None


def available_modes() -> dict[str, str | None]:
    """Each mode and whether it works here.

    Returns:
        Mode -> None when usable, else the reason it is not.
    """
    return {"bwrap": _bwrap_problem(), "process": None}


def resolve_mode(requested: str) -> str:
    """The mode to run in: ``auto`` -> ``bwrap`` when usable; ``best`` -> ``bwrap`` when usable,
    else ``process``.

    Args:
        requested: ``auto``, ``best``, ``bwrap`` or ``process``.

    Returns:
        ``bwrap`` or ``process``.

    Raises:
        SandboxUnavailable: The mode is unknown, or bwrap is needed and does not work here.
    """
    if requested not in REQUESTS:
        raise SandboxUnavailable(f"unknown sandbox mode {requested!r} ({', '.join(REQUESTS)})")
    if requested == "process":
        return "process"
    problem = _bwrap_problem()
    if problem is None:
        return "bwrap"
    if requested == "best":
        return "process"
    raise SandboxUnavailable(
        f"cannot isolate student code: {problem}. Install bubblewrap, or pass "
        "--sandbox process to run without isolation (reports will say so)"
    )


def fallback_note(requested: str) -> str | None:
    """The report's note when ``requested`` is ``best`` and bwrap does not work here (the code
    then runs in ``process`` mode), else None. It replaces the usual "isolation was OFF" note."""
    problem = _bwrap_problem() if requested == "best" else None
    if problem is None:
        return None
    return f"No isolation here ({problem}): your code ran in a child process on this machine."
