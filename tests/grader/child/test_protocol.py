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
import tempfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from grader.child import protocol
from grader.child.protocol import MAGIC, MAX_ARRAYS, ProtocolError

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
