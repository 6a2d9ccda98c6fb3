"""A seccomp filter that keeps student code from creating user namespaces (``userns_filter``).

A grader needs no user namespaces, and each one opens kernel surface (a process that is "root"
in its own namespace may mount, create network devices, ...). bwrap's ``--disable-userns``
needs ``--unshare-user``, which the root + uid-drop design does not use, so a classic-BPF
seccomp filter does it instead, in both modes: bwrap loads it (``--seccomp FD``) just before it
execs the command, and process mode installs it between fork and exec (``SeccompFilter``).

The filter returns an error, never kills, for:

* ``unshare`` and ``clone`` with ``CLONE_NEWUSER`` in their flags (the first argument): EPERM;
* ``clone3``: ENOSYS. Its flags are in memory that BPF cannot read, and ENOSYS makes glibc
  fall back to ``clone`` (threads and ``posix_spawn`` keep working), where the flags are seen;
* ``setns``: EPERM (entering another process's namespaces);
* any call of another ABI (i386 through ``int 0x80``, x32): ENOSYS, since their syscall numbers
  differ and would slip past the checks above.

Everything else is allowed. Only x86_64 and aarch64 are known; elsewhere ``userns_filter``
returns None and the caller notes that user namespaces are not blocked. Installing the filter
needs prctl (``grader.sandbox.facilities``): without it process mode makes no ``SeccompFilter``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from grader.sandbox.facilities import prctl

__all__ = ["CLONE_NEWUSER", "SYSCALLS", "SeccompFilter", "filter_pipe", "program", "userns_filter"]

CLONE_NEWUSER = 0x10000000

# <linux/filter.h> and <linux/seccomp.h>
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: load a 32-bit word of struct seccomp_data
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_NR, _ARCH, _ARG0_LOW = 0, 4, 16  # little-endian: the low half of args[0] comes first
_X32_BIT = 0x40000000

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


@dataclass(frozen=True)
class Syscalls:
    """One ABI: its audit arch and the numbers of the calls the filter looks at."""

    audit_arch: int
    clone: int
    unshare: int
    setns: int
    clone3: int
    x32_bit: bool
    """Whether numbers with ``__X32_SYSCALL_BIT`` (the x32 ABI) reach this filter."""


SYSCALLS = {
    "x86_64": Syscalls(0xC000003E, clone=56, unshare=272, setns=308, clone3=435, x32_bit=True),
    "aarch64": Syscalls(0xC00000B7, clone=220, unshare=97, setns=268, clone3=435, x32_bit=False),
}
"""Known ABIs by ``platform.machine()`` (``arm64`` is aarch64's name on some systems)."""


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)  # struct sock_filter, native byte order


def program(calls: Syscalls) -> bytes:
    """The filter for ``calls``' ABI: an array of ``struct sock_filter``, as bwrap reads it.

    Jump offsets count instructions after the jump; the layout is fixed, so they are too.
    """
    eperm, enosys = _insn(_RET_K, RET_ERRNO | errno.EPERM), _insn(_RET_K, RET_ERRNO | errno.ENOSYS)
    allow = _insn(_RET_K, RET_ALLOW)
    # The tail every branch lands in: [flags check] allow, eperm, enosys.
    flags = [_insn(_LD_W_ABS, _ARG0_LOW), _insn(_JSET_K, CLONE_NEWUSER, jt=1, jf=0)]
    tail = [*flags, allow, eperm, enosys]
    # Offsets from the end of the dispatch block to each target in the tail.
    to_flags, to_eperm, to_enosys = 0, len(flags) + 1, len(flags) + 2
    dispatch: list[tuple[int, int, str]] = []  # (code, k, where a match goes)
    if calls.x32_bit:
        dispatch.append((_JGE_K, _X32_BIT, "enosys"))
    dispatch += [
        (_JEQ_K, calls.clone3, "enosys"),
        (_JEQ_K, calls.setns, "eperm"),
        (_JEQ_K, calls.unshare, "flags"),
        (_JEQ_K, calls.clone, "flags"),
    ]
    targets = {"flags": to_flags, "eperm": to_eperm, "enosys": to_enosys}
    body = []
    for i, (code, k, where) in enumerate(dispatch):
        after = len(dispatch) - i - 1  # dispatch instructions still to come
        body.append(_insn(code, k, jt=after + 1 + targets[where], jf=0))
    # No match: skip the flags check and allow (one jump over the two flags instructions).
    no_match = _insn(0x05, len(flags))  # BPF_JMP | BPF_JA
    head = [
        _insn(_LD_W_ABS, _ARCH),
        # Another ABI: straight to ENOSYS (jump over the nr load, dispatch and the tail's start).
        _insn(_JEQ_K, calls.audit_arch, jt=0, jf=1 + len(body) + 1 + to_enosys),
        _insn(_LD_W_ABS, _NR),
    ]
    return b"".join([*head, *body, no_match, *tail])


def userns_filter(machine: str | None = None) -> bytes | None:
    """The filter for this machine's ABI, or None where its syscall numbers are not known."""
    name = machine or platform.machine()
    calls = SYSCALLS.get("aarch64" if name == "arm64" else name)
    if calls is None or struct.calcsize("P") != 8:
        return None
    return program(calls)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SeccompFilter:
    """A filter ready to install between fork and exec (built before: no allocation there)."""

    def __init__(self, prog: bytes) -> None:
        self._buffer = ctypes.create_string_buffer(prog, len(prog))
        self._fprog = _SockFprog(len(prog) // 8, ctypes.addressof(self._buffer))
        self._prctl = prctl()  # looked up now: nothing is loaded between fork and exec

    def install(self) -> None:
        """Apply the filter to this process and its descendants (needs no-new-privileges or
        CAP_SYS_ADMIN; it cannot be removed)."""
        if self._prctl is None:
            raise OSError(errno.ENOSYS, "no prctl here: the seccomp filter cannot be installed")
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self._fprog), 0, 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


@contextlib.contextmanager
def filter_pipe(prog: bytes | None) -> Iterator[int | None]:
    """A pipe's read end holding ``prog``, for bwrap's ``--seccomp FD`` (which reads to the end),
    closed when the block ends (the child has its own copy by then); None for no filter.

    The filter is a few hundred bytes, far below a pipe's buffer: writing it all before bwrap
    starts cannot block.
    """
    if prog is None:
        yield None
        return
    read, write = os.pipe()
    try:
        os.write(write, prog)
    finally:
        os.close(write)
    try:
        yield read
    finally:
        os.close(read)
