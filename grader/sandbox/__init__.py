"""Runs untrusted student code with limits and isolation (see docs/sandbox.md).

``Sandbox`` is one submission's sandbox: it starts child processes as a dedicated unprivileged uid
(when we are root), with no-new-privileges, inside a cgroup that caps memory and process count,
with rlimits, in a new session, with numpy as the only importable package; in ``bwrap`` mode also
inside bubblewrap namespaces (no network, a filesystem of exact read-only paths, every
site-packages folder masked down to numpy, plus a private scratch directory). ``kill_all`` leaves
no process behind; ``Limits`` also words the report message of each limit.

Modules: ``modes`` (which isolation works here), ``facilities`` (which OS facilities are here:
prctl, rlimits, file locks, cgroups, /proc; each missing one drops only its own protections),
``environment`` (the child's clean environment), ``paths`` (what the sandbox exposes and masks),
``uids`` (sandbox uids and their sweep), ``cgroup``, ``limits``, ``bwrap`` (its command line),
``features`` (the installed bwrap's options), ``scratch`` (the disk limit), ``seccomp`` (no user
namespaces), ``reaping`` (orphaned bwrap inits), ``access`` (file permissions for the sandbox
uid), ``gate`` (the rlimits; starting bwrap without forking the grading process), ``bytecode``
(the child runtime's pycs), ``launch`` (``Sandbox``) and ``session`` (the conversation with the
child).
"""

from grader.errors import SandboxUnavailable
from grader.sandbox.launch import Sandbox
from grader.sandbox.limits import Limits
from grader.sandbox.modes import available_modes, fallback_note, resolve_mode

__all__ = [
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "available_modes",
    "fallback_note",
    "resolve_mode",
]
