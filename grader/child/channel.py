"""The child's ends of the check protocol, as its command line names them (``open_ends``).

The grading process picks one of two ways (``grader.sandbox.channel``):

* ``FD_IN FD_OUT``: two pipes inherited besides stdin, stdout and stderr (POSIX). They are made
  non-inheritable, so that no program the student's code starts holds them.
* ``stdio``: where no other descriptor can be inherited (Windows), the protocol travels on stdin
  and stdout. The child takes them over before any student code runs: each is duplicated to a
  private, non-inheritable descriptor for the protocol, then descriptor 1 is pointed at stderr
  (the capture file) and descriptor 0 at the null device. So what the student's code, or a
  program it starts, prints lands in the output log and never inside a frame, and what it reads
  is empty, exactly as with two pipes.
"""

from __future__ import annotations

import os
import sys

__all__ = ["STDIO", "open_ends"]

STDIO = "stdio"
"""The one argument that says the protocol travels on stdin and stdout."""


def open_ends(argv: list[str]) -> tuple[int, int]:
    """The descriptors to read requests from and write replies to, from the harness's arguments."""
    if argv == [STDIO]:
        return _take_stdio()
    fd_in, fd_out = int(argv[0]), int(argv[1])
    os.set_inheritable(fd_in, False)
    os.set_inheritable(fd_out, False)
    return fd_in, fd_out


def _take_stdio() -> tuple[int, int]:
    """Move the protocol off descriptors 0 and 1, which the student's code may use."""
    fd_in, fd_out = os.dup(0), os.dup(1)  # non-inheritable (PEP 446)
    # sys.stdout still writes to descriptor 1: from now on, into the capture file. Nothing was
    # printed yet, so nothing buffered can reach the protocol.
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if sys.platform == "win32":  # frames are bytes: no newline translation on either end
        import msvcrt

        for fd in (fd_in, fd_out):
            msvcrt.setmode(fd, os.O_BINARY)
    return fd_in, fd_out
