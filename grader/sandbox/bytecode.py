"""Bytecode for the child's harness, written by the grading process (``precompile``).

The child runs with ``-B`` from a read-only runtime folder, so without help it compiles its own
modules (the harness, the protocol, ...) from source at every start: about 7 ms of CPU per child,
twice per submission and again after every crash, where writing them once costs about 2 ms. So
before a runtime's first child starts, the grading process writes
``__pycache__/<module>.<tag>.pyc`` beside each module of ``nngrader_child``, once.

The files are *checked-hash* pycs (PEP 552): the child's importer uses one only when the hash of
the source beside it matches, so a pyc can never stand for other code than the file it sits next
to, whatever the timestamps; a mismatch just means compiling from source, as before. Only our
own package is compiled here, never the student's workspace: compiling untrusted source is the
child's business, in the sandbox. Each file is written under a temporary name and renamed, so a
child never reads half a pyc, and is readable by every uid (the sandbox uid reads it; the
folder is read-only to it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import sys
from functools import cache
from pathlib import Path

__all__ = ["precompile"]

_CHECKED_HASH = 0b11
"""PEP 552 flags: hash-based, and checked against the source at import."""


def precompile(folder: Path) -> int:
    """Write a checked-hash pyc for every module under ``folder`` that lacks one.

    ``__main__.py`` is left out: a script is compiled from source whatever lies beside it.

    Args:
        folder: A package of the child's runtime (``nngrader_child``, as Session passes it).

    Returns:
        How many pyc files were written (none where this Python has no cache tag).
    """
    tag = sys.implementation.cache_tag
    if tag is None:
        return 0
    written = 0
    for source in sorted(folder.rglob("*.py")):
        if source.name == "__main__.py":
            continue
        # The plain name, whatever -O the grading process runs with: the child runs without.
        target = Path(importlib.util.cache_from_source(str(source), optimization=""))
        if target.exists():
            continue
        try:
            data = source.read_bytes()
            _write(target, _pyc(data))
        except (OSError, SyntaxError, ValueError):
            continue  # the child compiles that one from source, as it always could
        written += 1
    return written


@cache
def _pyc(source: bytes) -> bytes:
    """The checked-hash pyc of ``source`` (compiled once per grading process and source).

    The code's file name does not matter: the importer sets it to the source's path at load.
    ``optimize=0``: the child runs without ``-O`` and loads the plain pyc, whatever flags the
    grading process was started with.
    """
    code = compile(source, "<nngrader-runtime>", "exec", dont_inherit=True, optimize=0)
    header = importlib.util.MAGIC_NUMBER + _CHECKED_HASH.to_bytes(4, "little")
    return header + importlib.util.source_hash(source) + marshal.dumps(code)


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(mode=0o755, exist_ok=True)
    target.parent.chmod(0o755)  # whatever our umask: the sandbox uid must read it
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.chmod(0o644)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
