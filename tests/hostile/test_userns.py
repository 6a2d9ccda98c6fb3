"""User-namespace attacks: unshare, clone and clone3 with CLONE_NEWUSER, the ``unshare`` tool.

The sandbox's seccomp filter (``grader.sandbox.seccomp``) refuses them. Each attack raises with
the errno it got, so the report shows that the kernel refused; had a namespace been created, the
attack would raise ``created`` instead (and a forked copy would leave at once).
"""

from __future__ import annotations

import platform
import shutil

import pytest

from grader.sandbox.seccomp import CLONE_NEWUSER, SYSCALLS
from tests.hostile.conftest import Graded, Hostile

pytestmark = pytest.mark.sandbox

FIRST = "affine_forward"
CALLS = SYSCALLS.get(platform.machine())
needs_known_abi = pytest.mark.skipif(
    CALLS is None, reason=f"no syscall table for {platform.machine()}"
)

RAISE_ERRNO = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def check(result):
    if result == 0:
        os._exit(0)  # a child of clone: leave at once
    if result > 0:
        raise RuntimeError('created a user namespace')
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code))
"""


def attack(hostile: Hostile, code: str) -> Graded:
    doc = hostile.attack(in_affine_forward=RAISE_ERRNO + code)
    assert "created a user namespace" not in doc.message(FIRST)
    assert doc.status("relu_forward") == "passed", doc.message("relu_forward")
    return doc


def test_unshare_newuser(hostile: Hostile) -> None:
    doc = attack(
        hostile,
        f"check(-1 if libc.unshare({CLONE_NEWUSER}) else 1)",  # unshare: 0 means created
    )
    doc.names(FIRST, "[Errno 1] Operation not permitted", status="error")


@needs_known_abi
def test_clone_newuser(hostile: Hostile) -> None:
    assert CALLS is not None
    # clone(flags, stack=0, ...) forks like fork() would, in a new user namespace.
    doc = attack(hostile, f"check(libc.syscall({CALLS.clone}, {CLONE_NEWUSER | 17}, 0, 0, 0, 0))")
    doc.names(FIRST, "[Errno 1] Operation not permitted", status="error")


@needs_known_abi
def test_clone3_newuser(hostile: Hostile) -> None:
    assert CALLS is not None
    # struct clone_args (88 bytes): flags first, then exit_signal at offset 32.
    code = (
        "import struct\n"
        f"args = ctypes.create_string_buffer(struct.pack('=QQQQQQQQQQQ', {CLONE_NEWUSER}, 0, 0, 0,"
        " 17, 0, 0, 0, 0, 0, 0))\n"
        f"check(libc.syscall({CALLS.clone3}, args, 88))"
    )
    doc = attack(hostile, code)
    doc.names(FIRST, "[Errno 38] Function not implemented", status="error")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare tool (util-linux)")
def test_unshare_tool(hostile: Hostile) -> None:
    doc = attack(
        hostile,
        "import subprocess\n"
        "done = subprocess.run(['unshare', '--user', '--map-root-user', 'id', '-u'],"
        " capture_output=True, text=True)\n"
        "said = (done.stderr + done.stdout).strip()\n"
        "raise RuntimeError(f'exit {done.returncode}: {said}')",
    )
    doc.names(FIRST, "exit 1: unshare: unshare failed: Operation not permitted", status="error")


def test_threads_and_subprocesses_still_work(hostile: Hostile) -> None:
    # clone3 is refused with ENOSYS so that glibc falls back to clone: threads, fork and
    # posix_spawn must keep working under the filter.
    doc = attack(
        hostile,
        "import subprocess, threading\n"
        "seen = []\n"
        "t = threading.Thread(target=seen.append, args=(1,))\n"
        "t.start()\nt.join()\n"
        "out = subprocess.run(['echo', 'spawned'], capture_output=True, text=True).stdout\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(7)\n"
        "code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n"
        "raise RuntimeError(f'thread {seen} {out.strip()} fork {code}')",
    )
    doc.names(FIRST, "thread [1] spawned fork 7", status="error")
