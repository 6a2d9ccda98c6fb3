"""The child's environment: clean, with only what the child runtime needs (``child_environment``).

Nothing of the grading process's environment reaches the student's code (no tokens, no paths of
the grader's), except a test's simulated machine (``grader.sandbox.facilities``), so that the
child, another interpreter, sees the same one, and on Windows what Python needs to start there
(``WINDOWS_KEPT``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from grader.sandbox.facilities import SIMULATE_ENV

__all__ = ["THREAD_VARS", "child_environment"]

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)
WINDOWS_KEPT = ("SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "PATH", "PATHEXT", "COMSPEC")
"""Taken from the grading process on Windows: without ``SYSTEMROOT`` Python there cannot get
random numbers or open sockets, and the POSIX ``PATH`` below means nothing there."""
WINDOWS_SCRATCH = ("TEMP", "TMP", "USERPROFILE")
"""Windows' names for the temporary folder and the home folder: the child's scratch too."""


def child_environment(
    *, scratch: Path, pythonpath: str, threads: int, extra: Mapping[str, str]
) -> dict[str, str]:
    """The whole environment of a child.

    Args:
        scratch: Its writable folder (HOME and TMPDIR).
        pythonpath: Where numpy and the declared packages are, and nothing else
            (``ChildPackages.pythonpath``).
        threads: BLAS/OpenMP threads (``Limits.threads``).
        extra: Variables added last (a caller's own).
    """
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # Python finds its prefix from PYTHONHOME once it runs as another uid.
        "PYTHONHOME": sys.base_prefix,
        "PYTHONPATH": pythonpath,
        "MPLBACKEND": "Agg",  # a course's matplotlib draws without a display
    }
    if SIMULATE_ENV in os.environ:  # a test's simulated machine is the child's too
        env[SIMULATE_ENV] = os.environ[SIMULATE_ENV]
    if os.name == "nt":
        env.update(_windows(scratch))
    env.update({var: str(threads) for var in THREAD_VARS})
    env.update(extra)
    return env


def _windows(scratch: Path) -> dict[str, str]:
    """What a child needs on Windows besides the rest (untested here: no Windows machine)."""
    kept = {name: os.environ[name] for name in WINDOWS_KEPT if name in os.environ}
    return {**kept, **{name: str(scratch) for name in WINDOWS_SCRATCH}}
