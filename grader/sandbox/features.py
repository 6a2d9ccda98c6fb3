"""Which options the installed bubblewrap understands (``bwrap_supports``), probed once.

Distributions ship very different bwrap versions (Debian bookworm 0.8.0, older ones 0.4 or
less), and an unknown option makes bwrap refuse to start at all. So every option newer than the
basics is looked up in ``bwrap --help`` first, and the caller falls back (and says so in the
report) where one is missing: ``--size`` (0.8.0; a size-limited tmpfs) and ``--seccomp``. And
whether it is installed setuid root (``bwrap_is_setuid``: unprivileged machines).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from functools import cache

__all__ = ["bwrap_is_setuid", "bwrap_options", "bwrap_supports", "parse_help"]

_OPTION = re.compile(r"^\s+(--[a-z0-9-]+)", re.MULTILINE)


def parse_help(text: str) -> frozenset[str]:
    """The options a ``bwrap --help`` text lists (the first word of each indented line)."""
    return frozenset(_OPTION.findall(text))


@cache
def bwrap_options() -> frozenset[str]:
    """The options of the ``bwrap`` on PATH (empty when it is missing or does not answer)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return frozenset()
    try:
        # Our own fixed command line; bwrap prints its help to stdout and exits with 0.
        done = subprocess.run(  # noqa: S603
            [exe, "--help"], capture_output=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return parse_help(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"))


def bwrap_supports(option: str) -> bool:
    """Whether the installed bwrap knows ``option`` (e.g. ``--size``)."""
    return option in bwrap_options()


def bwrap_is_setuid() -> bool:
    """Whether the ``bwrap`` on PATH is setuid (looked at every call, like ``shutil.which``)."""
    path = shutil.which("bwrap")
    try:
        return path is not None and bool(os.stat(path).st_mode & stat.S_ISUID)
    except OSError:
        return False
