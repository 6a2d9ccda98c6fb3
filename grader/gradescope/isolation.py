"""Which sandbox a run in Gradescope's container gets, and what its report says about it.

Gradescope runs ``run_autograder`` as root in a Docker container, and Docker's default profile
withholds what bubblewrap needs to create namespaces (``CAP_SYS_ADMIN``, or unprivileged user
namespaces), so ``--sandbox auto``, which refuses to run student code without bubblewrap, would
fail every submission there. The default choice, ``fallback``, takes bubblewrap when it works and
otherwise runs the student's code in process mode: without namespaces, but still as an
unprivileged uid with no-new-privileges, rlimits and (where the kernel allows) a cgroup and a
seccomp filter, each one missing named in the report by the sandbox, inside a container
Gradescope makes for this submission alone and throws away after it. The report says which ran
and why (``extra_data.isolation``, and a note). ``bwrap`` insists on bubblewrap: where it cannot
run, every submission gets a score-0 results.json that names the problem. ``process`` never
tries namespaces.
"""

from __future__ import annotations

from grader.errors import SandboxUnavailable
from grader.sandbox import modes

__all__ = ["CHOICES", "choose_isolation"]

CHOICES = ("fallback", "bwrap", "process")
"""The sandbox choices of ``nngrader gradescope build --sandbox``; ``fallback`` is the default."""


def choose_isolation(choice: str) -> tuple[str, str | None]:
    """The sandbox mode to grade in, and the report's note when it is not what was preferred.

    Args:
        choice: one of ``CHOICES``.

    Returns:
        ``bwrap`` or ``process``, and None or a note saying why bubblewrap was not used.

    Raises:
        SandboxUnavailable: ``choice`` is unknown, or ``bwrap`` and bubblewrap does not work here.
    """
    if choice not in CHOICES:
        raise SandboxUnavailable(f"unknown sandbox choice {choice!r} ({', '.join(CHOICES)})")
    if choice == "process":
        return "process", None
    problem = modes.available_modes()["bwrap"]
    if problem is None:
        return "bwrap", None
    if choice == "bwrap":
        raise SandboxUnavailable(
            f"cannot isolate student code in this container: {problem}. The autograder was "
            "built with --sandbox bwrap; rebuild it with --sandbox fallback to grade without "
            "namespaces here"
        )
    return "process", (
        f"bubblewrap could not run in Gradescope's container ({problem}), so this submission "
        "was graded in process mode (the autograder's --sandbox fallback): without namespaces, "
        "as an unprivileged user under the limits this container allows, in a container used "
        "for this submission alone"
    )
