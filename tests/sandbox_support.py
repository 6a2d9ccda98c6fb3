"""Whether the full sandbox works here; sandbox tests skip where it cannot, unless CI says it must.

With ``NNGRADER_REQUIRE_SANDBOX=1`` (set by ``.ci/run``) every ``sandbox``-marked test fails,
naming the problem, when bubblewrap, root or the cgroup v1 pids/memory hierarchy is unusable,
instead of skipping: a CI machine that silently lost its sandbox must not pass.
"""

from __future__ import annotations

import os
from functools import cache

import pytest

REQUIRE_VARIABLE = "NNGRADER_REQUIRE_SANDBOX"
REQUIRED = os.environ.get(REQUIRE_VARIABLE) == "1"


@cache
def sandbox_problems() -> tuple[str, ...]:
    """What keeps the full sandbox (bwrap, uid drop, cgroup) from working here; empty if nothing."""
    from grader.sandbox import available_modes
    from grader.sandbox.cgroup import CGroup

    problems = []
    if os.geteuid() != 0:
        problems.append("not running as root, so student code cannot be dropped to a sandbox uid")
    bwrap = available_modes()["bwrap"]
    if bwrap:
        problems.append(bwrap)
    if os.geteuid() == 0:
        group = CGroup.create(f"nngrader-probe-{os.getpid()}", memory_bytes=2**30, max_processes=8)
        if group is None:
            problems.append("no writable cgroup v1 pids and memory hierarchy")
        else:
            group.remove()
    return tuple(problems)


def sandbox_unusable(reason: str) -> None:
    """Skip because the sandbox cannot work here, or fail when the run requires it."""
    if REQUIRED:
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {reason}", pytrace=False)
    pytest.skip(reason)
