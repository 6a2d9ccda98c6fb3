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

Nothing is ever unpickled, and nothing that arrives is trusted (student code can write frames of
its own to the result pipe): before ``np.load`` the reader checks that the payload is an
uncompressed ``.npz`` of a bounded number of ``.npy`` members, each with a plain numeric or bool
dtype and a header whose shape accounts exactly for the member's bytes, so that decoding never
allocates more than the payload's own (bounded) size.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import select
import struct
import time
import warnings
import zipfile
from typing import Any

import numpy as np

MAGIC = b"NNG1"
MAX_HEADER_BYTES = 4 * 1024 * 1024
ALLOWED_KINDS = frozenset("biuf")  # bool, int, uint, float; never object, str or void
MAX_ARRAYS = 4096
"""Most arrays one frame may carry (a net's parameters and caches are a few dozen)."""
MAX_DEPTH = 64
"""Deepest nesting of tagged values (real requests and replies nest fewer than ten levels)."""
MAX_DIMS = 32
_MEMBER_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\.npy")
_CD_ENTRY_BYTES = 256  # generous size of one central-directory entry (46 + name + zip64 extra)
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, no comment
_NPY_HEAD_BYTES = 64 * 1024  # magic + header of one .npy member (numpy caps the header at 10000)


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
        self.arrays[name] = np.asarray(
            array, order="C"
        )  # not ascontiguousarray: it makes 0-d arrays 1-d
        return {"$a": name}


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"$f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def decode(value: Any, arrays: dict[str, np.ndarray], handle: Any = None, _depth: int = 0) -> Any:
    """Inverse of ``Encoder.encode``; ``handle(id, type)`` resolves handles (child side).

    Raises:
        ProtocolError: for a malformed tagged value or nesting deeper than ``MAX_DEPTH``.
    """
    if _depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    depth = _depth + 1
    if isinstance(value, list):
        return [decode(v, arrays, handle, depth) for v in value]
    if not isinstance(value, dict):
        return value
    if "$a" in value:
        name = value["$a"]
        if not isinstance(name, str) or name not in arrays:
            raise ProtocolError(f"frame refers to a missing array {name!r}")
        return arrays[name]
    if "$f" in value:
        if value["$f"] not in ("nan", "inf", "-inf"):
            raise ProtocolError(f"bad non-finite float tag {value['$f']!r}")
        return float(value["$f"])
    if "$t" in value:
        if not isinstance(value["$t"], list):
            raise ProtocolError("a tuple tag must hold a list")
        return tuple(decode(v, arrays, handle, depth) for v in value["$t"])
    if "$d" in value:
        pairs = value["$d"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
        ):
            raise ProtocolError("a dict tag must hold [key, value] pairs with string keys")
        return {k: decode(v, arrays, handle, depth) for k, v in pairs}
    if "$h" in value:
        hid, type_name = value["$h"], value.get("type", "")
        if not isinstance(hid, str) or not isinstance(type_name, str):
            raise ProtocolError("a handle tag must hold a string id and type")
        return handle(hid, type_name) if handle else Handle(hid, type_name)
    if any(str(k).startswith("$") for k in value):
        raise ProtocolError(f"unknown tagged value with keys {sorted(value)}")
    return {k: decode(v, arrays, handle, depth) for k, v in value.items()}  # a plain JSON object


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
    fd: int, *, deadline: float | None = None, max_payload: int = 256 * 1024 * 1024
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read one frame; validates sizes and dtypes, never unpickles.

    Args:
        fd: readable file descriptor.
        deadline: ``time.monotonic()`` value after which ``ChannelTimeout`` is raised.
        max_payload: largest accepted payload in bytes (a huge returned array fails cleanly).
    """
    reader = _PipeReader(fd, deadline)
    if reader.read(4) != MAGIC:
        raise ProtocolError("frame does not start with the protocol marker")
    head_len = int.from_bytes(reader.read(8), "big")
    if head_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"frame header of {head_len} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        header = json.loads(reader.read(head_len), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame header is not plain JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not a JSON object")
    payload_len = int.from_bytes(reader.read(8), "big")
    if payload_len > max_payload:
        raise ProtocolError(
            f"result of {payload_len / 2**20:.1f} MiB exceeds the {max_payload / 2**20:.0f} MiB "
            "limit"
        )
    arrays = load_arrays(reader.read(payload_len), max_bytes=max_payload) if payload_len else {}
    return header, arrays


def load_arrays(payload: bytes, *, max_bytes: int = 256 * 1024 * 1024) -> dict[str, np.ndarray]:
    """Load an ``.npz`` payload after checking it (``check_archive``); never unpickles.

    Raises:
        ProtocolError: the payload is not an archive ``pack`` could have written.
    """
    expected = check_archive(payload, max_bytes=max_bytes)
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as exc:
        raise ProtocolError(f"result payload is not a valid array archive: {exc}") from None
    for name, array in arrays.items():  # what numpy read must be what was checked
        if not isinstance(array, np.ndarray) or (array.dtype, array.shape) != expected.get(name):
            raise ProtocolError(f"array {name!r} does not match its checked header")
    return arrays


def check_archive(payload: bytes, *, max_bytes: int) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """Validate an ``.npz`` payload without decoding any array data.

    Accepted: a zip that starts with a member and ends with a plain end record (no comment, no
    zip64, at most ``MAX_ARRAYS`` members), whose members are all stored (not compressed, not
    encrypted), uniquely named ``<name>.npy``, with a version 1.0 or 2.0 ``.npy`` header giving
    a bool/int/uint/float dtype (no object, no structured or sub-array dtype) and a shape whose
    size times the item size is exactly the member's data, all of it within ``max_bytes``.

    Returns:
        name (without ``.npy``) -> (dtype, shape) of every member.

    Raises:
        ProtocolError: naming the first problem found.
    """
    if len(payload) < _EOCD.size or payload[:4] != b"PK\x03\x04":
        raise ProtocolError("result payload is not an .npz array archive")
    sig, _disk, _cd_disk, here, total, cd_size, cd_offset, comment = _EOCD.unpack(
        payload[-_EOCD.size :]
    )
    if sig != b"PK\x05\x06" or comment != 0:
        raise ProtocolError("result payload does not end with a plain zip end record")
    if payload[-_EOCD.size - 20 : -_EOCD.size][:4] == b"PK\x06\x07":
        raise ProtocolError("result payload uses zip64 end records (never written by the protocol)")
    if total > MAX_ARRAYS:
        raise ProtocolError(f"result payload holds {total} arrays (at most {MAX_ARRAYS})")
    if (
        here != total
        or cd_size > total * _CD_ENTRY_BYTES
        or cd_offset + cd_size > len(payload) - _EOCD.size
    ):
        raise ProtocolError("result payload has an inconsistent zip directory")
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ProtocolError(f"result payload is not a valid array archive: {exc}") from None
    if len(members) > MAX_ARRAYS:
        raise ProtocolError(f"result payload holds {len(members)} arrays (at most {MAX_ARRAYS})")
    found: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
    budget = max_bytes
    with archive:
        for info in members:
            name = info.filename
            if not _MEMBER_NAME.fullmatch(name) or name[:-4] in found:
                raise ProtocolError(
                    f"result payload has a bad or repeated member name {name[:80]!r}"
                )
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise ProtocolError(
                    f"array {name!r} is compressed (only stored members are accepted)"
                )
            if info.flag_bits & 0x1:
                raise ProtocolError(f"array {name!r} is encrypted")
            dtype, shape, data_offset = _check_member(archive, info)
            nbytes = math.prod(shape) * dtype.itemsize
            if data_offset + nbytes != info.file_size:
                raise ProtocolError(
                    f"array {name!r}: its header says shape {shape} of {dtype} "
                    f"({nbytes} bytes) but the member holds {info.file_size - data_offset}"
                )
            budget -= nbytes
            if budget < 0:
                raise ProtocolError(f"result arrays exceed the {max_bytes / 2**20:.0f} MiB limit")
            found[name[:-4]] = (dtype, shape)
    return found


def _check_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo
) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, offset of the data) from the ``.npy`` header of one stored member."""
    name = info.filename
    try:
        with archive.open(info) as member:
            head = io.BytesIO(member.read(min(info.file_size, _NPY_HEAD_BYTES)))
        version = np.lib.format.read_magic(head)
        readers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        if version not in readers:
            raise ProtocolError(
                f"array {name!r} has .npy format version {version} (1.0 or 2.0 only)"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # headers that need numpy's Python 2 repairs are refused
            shape, _fortran, dtype = readers[version](head)
    except ProtocolError:
        raise
    except Exception as exc:
        raise ProtocolError(f"array {name!r} has no valid .npy header: {exc}") from None
    if (
        dtype.kind not in ALLOWED_KINDS
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.hasobject
    ):
        raise ProtocolError(
            f"array {name!r} has dtype {dtype} (only bool, integer and float arrays may cross)"
        )
    if len(shape) > MAX_DIMS or any(n < 0 for n in shape):
        raise ProtocolError(f"array {name!r} has an invalid shape {shape[:MAX_DIMS]}")
    return dtype, tuple(shape), head.tell()


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
