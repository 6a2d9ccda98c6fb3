"""The user-namespace seccomp filter: its decisions (run by a small classic-BPF interpreter, for
every known ABI) and its effect in a real process on this machine."""

from __future__ import annotations

import errno
import platform
import struct
import subprocess
import sys
import textwrap

import pytest

from grader.sandbox.seccomp import (
    CLONE_NEWUSER,
    RET_ALLOW,
    RET_ERRNO,
    SYSCALLS,
    Syscalls,
    program,
    userns_filter,
)

AUDIT_ARCH_I386 = 0x40000003
CLONE_THREAD_FLAGS = 0x3D0F00  # what pthread_create passes to clone
SIGCHLD = 17


def run_bpf(prog: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """What the kernel would do: interpret the classic-BPF subset seccomp filters use."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack("=HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x05:  # ja k
            pc += k
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if hit else jf
        elif code == 0x06:  # ret k
            return int(k)
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x}")


@pytest.mark.parametrize("machine", sorted(SYSCALLS))
def test_the_filter_refuses_new_user_namespaces_only(machine: str) -> None:
    calls: Syscalls = SYSCALLS[machine]
    prog = program(calls)
    assert len(prog) % 8 == 0

    def verdict(nr: int, arg0: int = 0, arch: int = calls.audit_arch) -> int:
        return run_bpf(prog, nr, arch, arg0)

    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    assert verdict(calls.unshare, CLONE_NEWUSER) == eperm
    assert verdict(calls.unshare, CLONE_NEWUSER | 0x20000) == eperm  # with CLONE_NEWNS
    assert verdict(calls.clone, CLONE_NEWUSER | SIGCHLD) == eperm
    assert verdict(calls.clone3) == enosys  # glibc falls back to clone
    assert verdict(calls.setns) == eperm
    # What Python and glibc need: plain fork, threads, unshare of other namespaces.
    assert verdict(calls.clone, SIGCHLD) == RET_ALLOW
    assert verdict(calls.clone, CLONE_THREAD_FLAGS) == RET_ALLOW
    assert verdict(calls.unshare, 0x20000) == RET_ALLOW
    for other in (0, 1, 59, 63, 200, 434):
        if other not in (calls.clone, calls.unshare, calls.setns):
            assert verdict(other, CLONE_NEWUSER) == RET_ALLOW, other
    # Another ABI's numbers mean other calls: refused as a whole.
    assert verdict(310, CLONE_NEWUSER, arch=AUDIT_ARCH_I386) == enosys
    if calls.x32_bit:
        assert verdict(0x40000000 | calls.unshare, CLONE_NEWUSER) == enosys


def test_unknown_machines_get_no_filter() -> None:
    assert userns_filter("riscv64") is None
    assert userns_filter("arm64") == userns_filter("aarch64") is not None


@pytest.mark.skipif(
    userns_filter() is None, reason=f"no seccomp filter for {platform.machine()} here"
)
def test_installed_filter_blocks_userns_but_not_threads_or_fork() -> None:
    # In a child of its own: a seccomp filter cannot be removed.
    code = textwrap.dedent(f"""
        import ctypes, os, subprocess, threading
        from grader.sandbox.seccomp import SeccompFilter, userns_filter
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(38, 1, 0, 0, 0) == 0  # no-new-privileges: needed without root
        SeccompFilter(userns_filter()).install()
        print("unshare", libc.unshare({CLONE_NEWUSER}), ctypes.get_errno())
        seen = []
        t = threading.Thread(target=seen.append, args=(1,))
        t.start(); t.join()
        print("thread", seen)
        print("spawn", subprocess.run(["true"]).returncode)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == [f"unshare -1 {errno.EPERM}", "thread [1]", "spawn 0"]
