"""The check protocol on its own: round trips, and forged frames from an untrusted child.

Student code can write frames of its own to the result pipe (the fd number is in ``sys.argv`` and
ids are sequential), so every test here plays the child and checks that the grading process
refuses what ``pack`` would never write, with a ``ProtocolError`` that says why, and without
allocating more than the forged payload itself.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.child import protocol
from grader.child.archive import MAX_ARRAYS
from grader.child.protocol import MAGIC, ProtocolError

SMALL = 16 * 2**20  # peak host memory a refused frame may cost (the forged payloads are < 1 MiB)


def frame(header: dict[str, Any], payload: bytes) -> bytes:
    head = json.dumps(header).encode()
    return b"".join(
        (MAGIC, len(head).to_bytes(8, "big"), head, len(payload).to_bytes(8, "big"), payload)
    )


def npy(
    descr: Any, shape: tuple[int, ...], data: bytes, *, version: tuple[int, int] = (1, 0)
) -> bytes:
    """A ``.npy`` member whose header says ``descr`` and ``shape`` whatever ``data`` holds."""
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(out, header)
    else:
        np.lib.format.write_array_header_2_0(out, header)
    return out.getvalue() + data


def npz(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def channel() -> Iterator[Any]:
    """``send(bytes)`` then read one frame back through a real file descriptor."""
    with tempfile.TemporaryFile() as f:

        def read(data: bytes, **kwargs: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
            f.seek(0)
            f.truncate()
            f.write(data)
            f.flush()
            os.lseek(f.fileno(), 0, os.SEEK_SET)
            return protocol.read_frame(f.fileno(), **kwargs)

        yield read


def refused_cheaply(read: Any, data: bytes, match: str, **kwargs: Any) -> None:
    """The frame is refused with ``match`` in the message and costs less than ``SMALL`` bytes."""
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match=match):
            read(data, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SMALL, f"refusing the frame allocated {peak / 2**20:.1f} MiB"


# -- what pack writes is read back exactly ------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "uint8", "bool", ">f8"])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4)])
def test_round_trip_keeps_dtype_shape_and_values(
    channel: Any, dtype: str, shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(sum(shape) + len(dtype))
    array = np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
    enc = protocol.Encoder()
    value = {
        "x": array,
        "fortran": np.asfortranarray(np.ones((3, 2)) * 2),
        "t": (1, float("nan"), [True]),
    }
    header, arrays = channel(protocol.pack({"id": 7, "value": enc.encode(value)}, enc.arrays))
    back = protocol.decode(header["value"], arrays)
    assert back["x"].dtype == array.dtype and back["x"].shape == array.shape
    np.testing.assert_array_equal(back["x"], array)
    np.testing.assert_array_equal(back["fortran"], np.full((3, 2), 2.0))
    assert back["t"][0] == 1 and np.isnan(back["t"][1]) and back["t"][2] == [True]
    assert back["x"].flags.writeable  # the child modifies arguments in place (numgrad)


def test_pack_writes_uncompressed_members_only() -> None:
    data = protocol.pack({"id": 1}, {"a0": np.zeros((64, 64)), "a1": np.arange(10)})
    head_len = int.from_bytes(data[4:12], "big")
    payload = data[12 + head_len + 8 :]
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert [i.compress_type for i in archive.infolist()] == [zipfile.ZIP_STORED] * 2


# -- forged payloads ----------------------------------------------------------------------------


def test_a_compressed_member_is_refused_before_it_expands(channel: Any) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, a0=np.zeros((8192, 1024)))  # 64 MiB of zeros in about 64 KiB
    assert len(buf.getvalue()) < 2**20
    refused_cheaply(channel, frame({"id": 1, "value": {"$a": "a0"}}, buf.getvalue()), "compressed")


@pytest.mark.parametrize(
    "descr", ["|O", [("x", "<f8")], [("x", "<f8", (3,))], "|V8", "<U4", "<c16", "|S4"]
)
def test_a_header_with_a_non_numeric_dtype_is_refused(channel: Any, descr: Any) -> None:
    payload = npz(
        {"a0.npy": npy(descr, (1,), bytes(np.dtype(np.lib.format.descr_to_dtype(descr)).itemsize))}
    )
    refused_cheaply(channel, frame({"id": 1}, payload), "only bool, integer and float")


@pytest.mark.parametrize(
    ("shape", "data_bytes"), [((2**25,), 8), ((4, 4), 8), ((1,), 16), ((2**62, 2**62), 0)]
)
def test_a_header_lying_about_the_shape_is_refused_without_allocating(
    channel: Any, shape: tuple[int, ...], data_bytes: int
) -> None:
    payload = npz({"a0.npy": npy("<f8", shape, bytes(data_bytes))})
    refused_cheaply(channel, frame({"id": 1}, payload), "header says shape")


def test_too_many_members_are_refused(channel: Any) -> None:
    arrays = {f"a{i}": np.zeros(1, dtype=np.uint8) for i in range(MAX_ARRAYS + 1)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    refused_cheaply(channel, frame({"id": 1}, buf.getvalue()), f"at most {MAX_ARRAYS}")


def test_a_lying_member_count_with_a_huge_directory_is_refused(channel: Any) -> None:
    payload = bytearray(npz({f"a{i}.npy": npy("<f8", (1,), bytes(8)) for i in range(300)}))
    # Claim 2 entries in the end record: zipfile itself would walk all 300 directory entries.
    payload[-14:-10] = (2).to_bytes(2, "little") * 2
    refused_cheaply(channel, frame({"id": 1}, bytes(payload)), "inconsistent zip directory")


@pytest.mark.parametrize("case", ["raw npy", "comment", "bad name", "not npy", "version 3"])
def test_other_malformed_archives_are_refused(channel: Any, case: str) -> None:
    member = npy("<f8", (2,), bytes(16))
    if case == "raw npy":  # np.load would read a bare .npy (and trust its header) instead of a zip
        payload = npy("<f8", (2**25,), bytes(16))
    elif case == "comment":
        payload = npz({"a0.npy": member})[:-2] + (3).to_bytes(2, "little") + b"abc"
    elif case == "bad name":
        payload = npz({"../a0.npy": member})
    elif case == "not npy":
        payload = npz({"a0.npy": b"raw bytes, np.load would hand them back as bytes"})
    else:
        payload = npz({"a0.npy": b"\x93NUMPY\x03\x00" + member[8:]})
    refused_cheaply(
        channel, frame({"id": 1}, payload), "archive|end record|member name|header|version"
    )


def test_repeated_member_names_are_refused(channel: Any) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("a0.npy", npy("<f8", (1,), bytes(8)))
        archive.writestr("a0.npy", npy("<f8", (2**25,), bytes(8)))
    refused_cheaply(channel, frame({"id": 1}, buf.getvalue()), "repeated member name")


def test_the_payload_budget_covers_the_arrays(channel: Any) -> None:
    data = protocol.pack({"id": 1}, {"a0": np.zeros(4096)})  # 32 KiB of data
    with pytest.raises(ProtocolError, match="exceeds the 0 MiB limit"):
        channel(data, max_payload=16 * 1024)


# -- forged headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"$f": "12"},
        {"$f": [1]},
        {"$t": 3},
        {"$d": [[1, 2]]},
        {"$d": [["k"]]},
        {"$h": 5},
        {"$a": ["a0"]},
        {"$a": "missing"},
        {"$x": 1},
    ],
)
def test_malformed_tags_are_protocol_errors(value: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode(value, {})


@pytest.mark.parametrize("depth", [protocol.MAX_DEPTH + 5, 5000])
def test_deep_nesting_is_a_protocol_error_not_a_recursion_error(channel: Any, depth: int) -> None:
    value = "[" * depth + "]" * depth
    head = ('{"id": 1, "value": ' + value + "}").encode()
    data = b"".join((MAGIC, len(head).to_bytes(8, "big"), head, (0).to_bytes(8, "big")))
    with pytest.raises(ProtocolError):
        header, arrays = channel(data)
        protocol.decode(header["value"], arrays)


# -- what decoded values weigh: every reference counted, before anything is materialised ---------

REF = {"$a": "a0"}
"""One reference to the array ``a0``; ``pack`` writes it in 11 bytes (12 with the comma)."""


def weight(array: np.ndarray) -> int:
    """What one reference to ``array`` costs in the budget: its size as float64 or wider."""
    return array.size * max(array.dtype.itemsize, 8)


def test_one_array_named_many_times_is_refused_before_it_is_materialised(channel: Any) -> None:
    """The finding: a 4 KiB array named in a reply 300,000 times became 1.2 GB when the grading
    process compared it (``np.asarray`` over the list). 80,000 names fit in the header limit and
    would make 312 MiB, over the 256 MiB default: refused while decoding, cheaply."""
    data = protocol.pack({"id": 1, "value": [REF] * 80_000}, {"a0": np.zeros(512)})
    assert len(data) < protocol.MAX_HEADER_BYTES
    header, arrays = channel(data)
    refused_cheaply(
        lambda _: protocol.decode(header["value"], arrays),
        b"",
        r"exceed the 256 MiB limit on results \(every reference to an array counts its size\)",
    )


def test_the_300000_reference_header_is_refused_before_it_is_parsed(channel: Any) -> None:
    header = {"id": 1, "value": [REF] * 300_000}
    data = protocol.pack(header, {"a0": np.zeros(512)})
    refused_cheaply(channel, data, r"frame header of 3\d{6} bytes exceeds the 1024 KiB limit")


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_the_budget_counts_every_reference_and_every_json_value(n: int) -> None:
    """A list of ``n`` references costs 8 (the list) + n * (8 + the array's weight): exactly
    that much passes, one byte less is refused."""
    arrays = {"a0": np.zeros(512)}
    cost = 8 + n * (8 + weight(arrays["a0"]))
    assert len(protocol.decode([REF] * n, arrays, max_bytes=cost)) == n
    with pytest.raises(ProtocolError, match=r"exceed the .* limit on results"):
        protocol.decode([REF] * n, arrays, max_bytes=cost - 1)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "float32", "float64"])
def test_an_array_weighs_what_it_becomes_as_float64(dtype: str) -> None:
    """Met by a Python float in a list, a bool array becomes float64 (8 times its bytes): the
    budget counts that, so a narrow dtype cannot multiply what a conversion allocates."""
    arrays = {"a0": np.zeros(1000, dtype=dtype)}
    assert weight(arrays["a0"]) == 8000
    assert protocol.decode(REF, arrays, max_bytes=8 + 8000) is arrays["a0"]
    with pytest.raises(ProtocolError, match="every reference to an array counts its size"):
        protocol.decode(REF, arrays, max_bytes=8 + 7999)


@pytest.mark.parametrize(
    "value",
    [
        [0] * 1000,
        ["text"] * 1000,
        {"$t": [None] * 999},
        {"$d": [[f"k{i}", True] for i in range(999)]},
        {f"k{i}": 1.5 for i in range(999)},
    ],
    ids=["numbers", "strings", "tuple", "dict", "object"],
)
def test_plain_json_values_count_too(value: Any) -> None:
    """Each value (number, string, None, container) costs ``VALUE_BYTES``: a header cannot stand
    for more values than the budget, whatever it nests them in."""
    assert protocol.VALUE_BYTES == 8
    protocol.decode(value, {}, max_bytes=8 * 1001)
    with pytest.raises(ProtocolError, match="limit on results"):
        protocol.decode(value, {}, max_bytes=8 * 1000 - 1)


HEADER_COST = """
import os, sys, tempfile
from grader import sanitize
from grader.child import protocol

unit, prefix = "[[]],", '{"id":1,"value":['
count = (protocol.MAX_HEADER_BYTES - len(prefix) - 2) // len(unit)
head = (prefix + (unit * count).rstrip(",") + "]}").encode()
assert len(head) <= protocol.MAX_HEADER_BYTES
f = tempfile.TemporaryFile()
f.write(protocol.MAGIC + len(head).to_bytes(8, "big") + head + bytes(8))
f.seek(0)

def peak():  # this process's resident high-water mark, in bytes
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

before = peak()
header, arrays = protocol.read_frame(f.fileno())
value = sanitize.value(protocol.decode(header.pop("value"), arrays))
assert len(value) == count
print(peak() - before)
"""


def test_a_header_at_the_size_limit_costs_the_grading_process_a_bounded_amount() -> None:
    """The costliest shape per byte (one-element lists, ``[[]],``): read, decoded and sanitized,
    a header of ``MAX_HEADER_BYTES`` adds less than 128 MiB to the process's peak resident size
    (measured in a fresh interpreter by its ``VmHWM``, the high-water mark of its own memory;
    ``ru_maxrss`` would not do: Linux carries the parent's mark across fork and exec)."""
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", HEADER_COST], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grown = int(done.stdout.split()[-1])
    assert grown < 128 * 2**20, f"a header at the limit cost {grown / 2**20:.0f} MiB"
