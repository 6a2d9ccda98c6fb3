"""The check protocol: how requests and results cross the sandbox boundary.

This module is imported on both sides (the grading process and the child that runs student
code), so it depends on numpy and the standard library only.

A *frame* is ``MAGIC | len(header) | header | len(payload) | payload`` where the lengths are
8-byte big-endian integers, ``header`` is UTF-8 JSON and ``payload`` is an ``.npz`` archive
written with ``allow_pickle=False``. Frames travel on dedicated pipes, never on stdout.

Values inside the JSON header are plain JSON, with these tagged forms:

* ``{"$a": name}`` an array stored in the payload under ``name``;
* ``{"$f": "nan" | "inf" | "-inf"}`` a non-finite float (JSON has none);
* ``{"$t": [...]}`` a tuple (lists stay lists);
* ``{"$d": [[key, value], ...]}`` a dict (keys are strings);
* ``{"$h": id, "type": name}`` a handle to an object that stays in the child (e.g. a cache).

Nothing is ever unpickled: the reader validates sizes and array dtypes before using them.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import time
from typing import Any

import numpy as np

MAGIC = b"NNG1"
MAX_HEADER_BYTES = 4 * 1024 * 1024
ALLOWED_KINDS = frozenset("biuf")  # bool, int, uint, float; never object, str or void


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
        self.arrays[name] = np.ascontiguousarray(array)
        return {"$a": name}


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"$f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def decode(value: Any, arrays: dict[str, np.ndarray], handle: Any = None) -> Any:
    """Inverse of ``Encoder.encode``; ``handle(id, type)`` resolves handles (child side)."""
    if isinstance(value, list):
        return [decode(v, arrays, handle) for v in value]
    if not isinstance(value, dict):
        return value
    if "$a" in value:
        try:
            return arrays[value["$a"]]
        except KeyError:
            raise ProtocolError(f"frame refers to a missing array {value['$a']!r}") from None
    if "$f" in value:
        return float(value["$f"])
    if "$t" in value:
        return tuple(decode(v, arrays, handle) for v in value["$t"])
    if "$d" in value:
        return {str(k): decode(v, arrays, handle) for k, v in value["$d"]}
    if "$h" in value:
        return handle(value["$h"], value.get("type", "")) if handle else Handle(value["$h"], value.get("type", ""))
    if any(str(k).startswith("$") for k in value):
        raise ProtocolError(f"unknown tagged value with keys {sorted(value)}")
    return {k: decode(v, arrays, handle) for k, v in value.items()}  # a plain JSON object


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
    fd: int, *, deadline: float | None = None, max_payload: int = 256 * 1024 * 1024
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame; validates sizes and dtypes, never unpickles.

    Args:
        fd: readable file descriptor.
        deadline: ``time.monotonic()`` value after which ``ChannelTimeout`` is raised.
        max_payload: largest accepted payload in bytes (a huge returned array fails cleanly).
    """
    reader = _Reader(fd, deadline)
    if reader.read(4) != MAGIC:
        raise ProtocolError("frame does not start with the protocol marker")
    head_len = int.from_bytes(reader.read(8), "big")
    if head_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"frame header of {head_len} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = json.loads(reader.read(head_len), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame header is not plain JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not a JSON object")
    payload_len = int.from_bytes(reader.read(8), "big")
    if payload_len > max_payload:
        raise ProtocolError(
            f"result of {payload_len / 2**20:.1f} MiB exceeds the {max_payload / 2**20:.0f} MiB limit"
        )
    arrays = load_arrays(reader.read(payload_len)) if payload_len else {}
    return header, arrays


def load_arrays(payload: bytes) -> dict[str, np.ndarray]:
    """Load an ``.npz`` payload without pickle and keep numeric arrays only."""
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as exc:  # noqa: BLE001 - any malformed archive is a protocol error
        raise ProtocolError(f"result payload is not a valid array archive: {exc}") from None
    for name, array in arrays.items():
        if array.dtype.kind not in ALLOWED_KINDS:
            raise ProtocolError(f"array {name!r} has non-numeric dtype {array.dtype}")
    return arrays


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


class _Reader:
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
