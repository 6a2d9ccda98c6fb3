"""What an ``.npz`` payload must be before ``np.load`` sees it: an archive ``pack`` could write.

Imported on both sides of the sandbox (through ``protocol``), so it depends on numpy and the
standard library only. Nothing here decodes array data: the checks read the zip directory and the
``.npy`` headers, so a forged payload is refused before it can allocate more than itself.
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings
import zipfile

import numpy as np

ALLOWED_KINDS = frozenset("biuf")  # bool, int, uint, float; never object, str or void
MAX_ARRAYS = 4096
"""Most arrays one frame may carry (a net's parameters and caches are a few dozen)."""
MAX_DIMS = 32
_MEMBER_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\.npy")
_CD_ENTRY_BYTES = 256  # generous size of one central-directory entry (46 + name + zip64 extra)
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, no comment
_NPY_HEAD_BYTES = 64 * 1024  # magic + header of one .npy member (numpy caps the header at 10000)


class ArchiveError(ValueError):
    """The payload is not an archive ``pack`` could have written (``protocol`` reports it as a
    ``ProtocolError``)."""


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
        ArchiveError: naming the first problem found.
    """
    if len(payload) < _EOCD.size or payload[:4] != b"PK\x03\x04":
        raise ArchiveError("result payload is not an .npz array archive")
    sig, _disk, _cd_disk, here, total, cd_size, cd_offset, comment = _EOCD.unpack(
        payload[-_EOCD.size :]
    )
    if sig != b"PK\x05\x06" or comment != 0:
        raise ArchiveError("result payload does not end with a plain zip end record")
    if payload[-_EOCD.size - 20 : -_EOCD.size][:4] == b"PK\x06\x07":
        raise ArchiveError("result payload uses zip64 end records (never written by the protocol)")
    if total > MAX_ARRAYS:
        raise ArchiveError(f"result payload holds {total} arrays (at most {MAX_ARRAYS})")
    if (
        here != total
        or cd_size > total * _CD_ENTRY_BYTES
        or cd_offset + cd_size > len(payload) - _EOCD.size
    ):
        raise ArchiveError("result payload has an inconsistent zip directory")
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ArchiveError(f"result payload is not a valid array archive: {exc}") from None
    if len(members) > MAX_ARRAYS:
        raise ArchiveError(f"result payload holds {len(members)} arrays (at most {MAX_ARRAYS})")
    found: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
    budget = max_bytes
    with archive:
        for info in members:
            name = info.filename
            if not _MEMBER_NAME.fullmatch(name) or name[:-4] in found:
                raise ArchiveError(
                    f"result payload has a bad or repeated member name {name[:80]!r}"
                )
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
                raise ArchiveError(
                    f"array {name!r} is compressed (only stored members are accepted)"
                )
            if info.flag_bits & 0x1:
                raise ArchiveError(f"array {name!r} is encrypted")
            dtype, shape, data_offset = _check_member(archive, info)
            nbytes = math.prod(shape) * dtype.itemsize
            if data_offset + nbytes != info.file_size:
                raise ArchiveError(
                    f"array {name!r}: its header says shape {shape} of {dtype} "
                    f"({nbytes} bytes) but the member holds {info.file_size - data_offset}"
                )
            budget -= nbytes
            if budget < 0:
                raise ArchiveError(f"result arrays exceed the {max_bytes / 2**20:.0f} MiB limit")
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
            raise ArchiveError(
                f"array {name!r} has .npy format version {version} (1.0 or 2.0 only)"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # headers that need numpy's Python 2 repairs are refused
            shape, _fortran, dtype = readers[version](head)
    except ArchiveError:
        raise
    except Exception as exc:
        raise ArchiveError(f"array {name!r} has no valid .npy header: {exc}") from None
    if (
        dtype.kind not in ALLOWED_KINDS
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.hasobject
    ):
        raise ArchiveError(
            f"array {name!r} has dtype {dtype} (only bool, integer and float arrays may cross)"
        )
    if len(shape) > MAX_DIMS or any(n < 0 for n in shape):
        raise ArchiveError(f"array {name!r} has an invalid shape {shape[:MAX_DIMS]}")
    return dtype, tuple(shape), head.tell()
