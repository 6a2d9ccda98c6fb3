"""The check protocol: how requests and results cross the sandbox boundary.

This module is imported on both sides (the grading process and the child that runs student
code), so it depends on numpy and the standard library only.

A *frame* is ``MAGIC | len(header) | header | len(payload) | payload`` where the lengths are
8-byte big-endian integers, ``header`` is UTF-8 JSON and ``payload`` is an ``.npz`` archive
written with ``allow_pickle=False``. Frames travel on dedicated pipes, never on what the student's
code prints to (where no pipe can be passed, on stdin and stdout: ``grader.sandbox.channel``).

Values inside the JSON header are plain JSON, with these tagged forms:

* ``{"$a": name}`` an array stored in the payload under ``name``;
* ``{"$f": "nan" | "inf" | "-inf"}`` a non-finite float (JSON has none);
* ``{"$t": [...]}`` a tuple (lists stay lists);
* ``{"$d": [[key, value], ...]}`` a dict (keys are strings);
* ``{"$h": id, "type": name}`` a handle to an object that stays in the child (e.g. a cache).

Nothing is ever unpickled, and nothing that arrives is trusted (student code can write frames of
its own to the result pipe): before ``np.load`` the reader checks that the payload is an
uncompressed ``.npz`` of a bounded number of ``.npy`` members, each with a plain numeric or bool
dtype and a header whose shape accounts exactly for the member's bytes, so that decoding never
allocates more than the payload's own (bounded) size. ``decode`` then bounds what the values
would weigh as arrays, each reference to an array counted, so a header that names one array many
times cannot make the grading process materialise more than the payload limit.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .archive import ALLOWED_KINDS, ArchiveError, check_archive

MAGIC = b"NNG1"
MAX_HEADER_BYTES = 1024 * 1024
"""Largest JSON header. Parsed, decoded and sanitized, a header costs the grading process up to
about 90 bytes of Python objects per byte (``[[[]], ...]``); real headers are a few KiB (arrays
travel in the payload)."""
MAX_PAYLOAD = 256 * 1024 * 1024
"""Default limit of a frame's payload, and of what its decoded values may weigh as arrays."""
VALUE_BYTES = 8
"""What one JSON value (number, string, list, ...) weighs in ``decode``'s budget: a float64."""
MAX_DEPTH = 64
"""Deepest nesting of tagged values (real requests and replies nest fewer than ten levels)."""


class ProtocolError(Exception):
    """A frame was malformed, too large, or carried something other than plain data."""


class ChannelClosed(ProtocolError):
    """The other side closed the pipe (the child died or exited)."""


class ChannelTimeout(ProtocolError):
    """No complete frame arrived before the deadline."""


# ---------------------------------------------------------------------------------------------
# Encoding values to (JSON, arrays)


class Encoder:
    """Collects arrays while turning a Python value into taggable JSON."""

    def __init__(self, keep: Any = None) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._keep = keep  # callable(obj) -> handle id, for objects that cannot cross

    def encode(self, value: Any) -> Any:
        """Return the JSON form of ``value``; arrays go to ``self.arrays``."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return _encode_float(float(value))
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.ndarray):
            return self._array(value)
        if isinstance(value, Handle):
            return value.ref()
        if isinstance(value, tuple):
            return {"$t": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"$d": [[k, self.encode(v)] for k, v in value.items()]}
        if self._keep is not None:
            return {"$h": self._keep(value), "type": type(value).__name__}
        raise ProtocolError(f"cannot send a value of type {type(value).__name__}")

    def _array(self, array: np.ndarray) -> dict[str, str]:
        if array.dtype.kind not in ALLOWED_KINDS:
            raise ProtocolError(f"array of dtype {array.dtype} cannot be sent (numeric only)")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.asarray(array, order="C")  # ascontiguousarray makes 0-d 1-d
        return {"$a": name}


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"$f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def decode(
    value: Any, arrays: dict[str, np.ndarray], handle: Any = None, *, max_bytes: int = MAX_PAYLOAD
) -> Any:
    """Inverse of ``Encoder.encode``; ``handle(id, type)`` resolves handles (child side).

    The result is bounded by what it would weigh as arrays: every reference to an array counts
    ``size * max(itemsize, 8)`` bytes (a bool array met by a float in a list becomes float64), and
    every other JSON value ``VALUE_BYTES``, all against ``max_bytes``. So ``np.asarray`` over any
    part of the result allocates at most ``max_bytes``, however often the header names one array
    (300,000 references to a 4 KiB array would otherwise materialise 1.2 GB).

    Raises:
        ProtocolError: for a malformed tagged value, nesting deeper than ``MAX_DEPTH``, or values
            heavier than ``max_bytes``.
    """
    return _Decoding(arrays, handle, max_bytes).value(value, 0)


class _Decoding:
    """One call of ``decode``: the arrays, the handle resolver and the bytes still allowed."""

    def __init__(self, arrays: dict[str, np.ndarray], handle: Any, max_bytes: int) -> None:
        self.arrays, self.handle = arrays, handle
        self.max_bytes = self.left = max_bytes

    def spend(self, nbytes: int) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise ProtocolError(
                f"the reply's values exceed the {_size(self.max_bytes)} limit on results "
                "(every reference to an array counts its size)"
            )

    def array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise ProtocolError(f"frame refers to a missing array {repr(name)[:80]}")
        array = self.arrays[name]
        self.spend(array.size * max(array.dtype.itemsize, 8))
        return array

    def value(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
        self.spend(VALUE_BYTES)
        depth += 1
        if isinstance(value, list):
            return [self.value(v, depth) for v in value]
        if not isinstance(value, dict):
            return value
        if "$a" in value:
            return self.array(value["$a"])
        if "$f" in value:
            if value["$f"] not in ("nan", "inf", "-inf"):
                raise ProtocolError(f"bad non-finite float tag {repr(value['$f'])[:80]}")
            return float(value["$f"])
        if "$t" in value:
            if not isinstance(value["$t"], list):
                raise ProtocolError("a tuple tag must hold a list")
            return tuple(self.value(v, depth) for v in value["$t"])
        if "$d" in value:
            pairs = value["$d"]
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
            ):
                raise ProtocolError("a dict tag must hold [key, value] pairs with string keys")
            return {k: self.value(v, depth) for k, v in pairs}
        if "$h" in value:
            hid, type_name = value["$h"], value.get("type", "")
            if not isinstance(hid, str) or not isinstance(type_name, str):
                raise ProtocolError("a handle tag must hold a string id and type")
            return self.handle(hid, type_name) if self.handle else Handle(hid, type_name)
        if any(str(k).startswith("$") for k in value):
            raise ProtocolError(f"unknown tagged value with keys {str(sorted(value))[:80]}")
        return {k: self.value(v, depth) for k, v in value.items()}  # a plain JSON object


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MiB" if nbytes >= 2**20 else f"{nbytes} bytes"


class Handle:
    """Host-side stand-in for an object that stayed in the child."""

    def __init__(self, hid: str, type_name: str) -> None:
        self.id = hid
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object in the student's process>"

    def ref(self) -> dict[str, str]:
        """JSON form that names this handle in a later request."""
        return {"$h": self.id, "type": self.type_name}


# ---------------------------------------------------------------------------------------------
# Frames


def pack(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise one frame."""
    head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    buf = io.BytesIO()
    if arrays:
        # Uncompressed on purpose: the reader refuses compressed members (a deflated member can
        # expand far beyond the payload limit inside the grading process).
        np.savez(buf, allow_pickle=False, **arrays)
    payload = buf.getvalue()
    return b"".join(
        (MAGIC, len(head).to_bytes(8, "big"), head, len(payload).to_bytes(8, "big"), payload)
    )


def write_frame(fd: int, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write one frame to a file descriptor (blocking)."""
    data = memoryview(pack(header, arrays))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def read_frame(
    fd: int, *, deadline: float | None = None, max_payload: int = MAX_PAYLOAD
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame; validates sizes and dtypes, never unpickles.

    Args:
        fd: readable file descriptor.
        deadline: ``time.monotonic()`` value after which ``ChannelTimeout`` is raised.
        max_payload: largest accepted payload in bytes (a huge returned array fails cleanly).
    """
    return read_frame_from(_PipeReader(fd, deadline).read, max_payload=max_payload)


def read_frame_from(
    read: Callable[[int], bytes], *, max_payload: int = MAX_PAYLOAD
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame through ``read(n)``, which returns exactly ``n`` bytes or raises
    (``ChannelClosed``, ``ChannelTimeout``): ``read_frame``'s checks on any byte stream (the
    grading process's threaded stdio channel, where ``select`` cannot wait on pipes)."""
    if read(4) != MAGIC:
        raise ProtocolError("frame does not start with the protocol marker")
    head_len = int.from_bytes(read(8), "big")
    if head_len > MAX_HEADER_BYTES:
        # Refused before reading it: json.loads of 1 MiB may already build ~90 MiB of objects.
        raise ProtocolError(
            f"frame header of {head_len} bytes exceeds the {MAX_HEADER_BYTES // 1024} KiB limit"
        )
    try:
        header = json.loads(read(head_len), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame header is not plain JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not a JSON object")
    payload_len = int.from_bytes(read(8), "big")
    if payload_len > max_payload:
        raise ProtocolError(
            f"result of {payload_len / 2**20:.1f} MiB exceeds the {max_payload / 2**20:.0f} MiB "
            "limit"
        )
    arrays = load_arrays(read(payload_len), max_bytes=max_payload) if payload_len else {}
    return header, arrays


def load_arrays(payload: bytes, *, max_bytes: int = MAX_PAYLOAD) -> dict[str, np.ndarray]:
    """Load an ``.npz`` payload after checking it (``archive.check_archive``); never unpickles.

    Raises:
        ProtocolError: the payload is not an archive ``pack`` could have written.
    """
    try:
        expected = check_archive(payload, max_bytes=max_bytes)
    except ArchiveError as exc:
        raise ProtocolError(str(exc)) from None
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as exc:
        raise ProtocolError(f"result payload is not a valid array archive: {exc}") from None
    for name, array in arrays.items():  # what numpy read must be what was checked
        if not isinstance(array, np.ndarray) or (array.dtype, array.shape) != expected.get(name):
            raise ProtocolError(f"array {name!r} does not match its checked header")
    return arrays


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


class _PipeReader:
    """Reads exact byte counts from a pipe, honouring a deadline."""

    def __init__(self, fd: int, deadline: float | None) -> None:
        self.fd = fd
        self.deadline = deadline

    def read(self, n: int) -> bytes:
        chunks: list[bytes] = []
        while n > 0:
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise ChannelTimeout("no reply before the deadline")
            chunk = os.read(self.fd, min(n, 1 << 20))
            if not chunk:
                raise ChannelClosed("the student's process closed the channel")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)
