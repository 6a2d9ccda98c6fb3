"""The model artifact: nngrader's ``.npz`` format, checked before numpy allocates anything.

The format (documented for students in ``assignments/README.md``): arrays ``W1`` ... ``WL`` of
shape ``(d_{i-1}, d_i)`` and ``b1`` ... ``bL`` of shape ``(d_i,)``; with batchnorm also
``gamma{i}``, ``beta{i}``, ``running_mean{i}``, ``running_var{i}`` of shape ``(d_i,)`` for
``i < L``; with layernorm ``gamma{i}`` and ``beta{i}`` only; and a 0-d string array
``normalization`` (``none``, ``batchnorm``, ``layernorm``). float16, float32 and float64 only.

A submitted file is data, not a claim: a zip's declared sizes are summed before any member is
read (a 1.6 GB array compresses to 1.5 MB), every member's ``.npy`` header must account exactly
for the member's declared size, and only then are arrays read, with ``allow_pickle=False``.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_MODEL_BYTES",
    "NORMALIZATIONS",
    "ArtifactError",
    "Model",
    "from_arrays",
    "load_npz",
]

NORMALIZATIONS = ("none", "batchnorm", "layernorm")
MAX_MODEL_BYTES = 256 * 1024 * 1024
"""Most the arrays of one model may weigh (a 6-layer 600...100 float64 net weighs 19 MiB)."""
MAX_FILE_BYTES = MAX_MODEL_BYTES + 1024 * 1024
"""Largest file opened: the arrays, plus room for the zip's own records."""
MAX_MEMBERS = 128
FLOAT_SIZES = (2, 4, 8)
_NAME = re.compile(r"[A-Za-z_]{1,20}[0-9]{0,4}")
_NPY_HEAD_BYTES = 64 * 1024  # magic + header of one member (numpy caps a header at 10000)
_NORM_CHARS = 16  # the longest normalization name, with room


class ArtifactError(ValueError):
    """The model was rejected; the message says why, in the grader's words."""


@dataclass(frozen=True)
class Model:
    """A validated fully connected net: what the reference forward pass evaluates.

    ``params`` holds ``W{i}`` ``(d_{i-1}, d_i)``, ``b{i}`` ``(d_i,)`` and the normalization's
    arrays ``(d_i,)``, each float16/32/64, finite; ``hidden_dims`` is ``(d_1, ..., d_{L-1})``.
    """

    params: Mapping[str, np.ndarray]
    normalization: str
    hidden_dims: tuple[int, ...]

    @property
    def dtype(self) -> type[np.floating]:
        """What the forward pass computes in: float64 when any array is, else float32 (numpy's
        float16 matrix products are slow and no more exact than float32's)."""
        wide = any(a.dtype == np.float64 for a in self.params.values())
        return np.float64 if wide else np.float32


def expected_keys(layers: int, normalization: str) -> list[str]:
    """The exact key set of an ``layers``-layer net with ``normalization`` (without
    ``normalization`` itself)."""
    keys = [f"{p}{i}" for i in range(1, layers + 1) for p in ("W", "b")]
    extra = {
        "batchnorm": ("gamma", "beta", "running_mean", "running_var"),
        "layernorm": ("gamma", "beta"),
    }
    keys += [f"{p}{i}" for i in range(1, layers) for p in extra.get(normalization, ())]
    return keys


def from_arrays(
    arrays: Mapping[str, np.ndarray],
    normalization: str,
    *,
    input_dim: int = 3 * 32 * 32,
    num_classes: int = 10,
) -> Model:
    """Validate named arrays as a ``Model`` (copies; the caller's arrays are not kept).

    Raises:
        ArtifactError: an unknown normalization, a key missing or extra, a dtype that is not
            float16/32/64, a shape that does not chain ``input_dim`` -> ... -> ``num_classes``, a
            NaN or inf, a negative running variance, or arrays over ``MAX_MODEL_BYTES``.
    """
    if normalization not in NORMALIZATIONS:
        raise ArtifactError(
            f"normalization {normalization[:40]!r} is not one of {list(NORMALIZATIONS)}"
        )
    layers = sum(1 for k in arrays if re.fullmatch(r"W[1-9][0-9]{0,3}", k))
    want = expected_keys(layers, normalization)
    missing, extra = sorted(set(want) - set(arrays)), sorted(set(arrays) - set(want))
    if layers == 0 or missing or extra:
        raise ArtifactError(_key_problem(layers, normalization, missing, extra))
    total = 0
    for key in want:
        value = arrays[key]
        if (
            not isinstance(value, np.ndarray)
            or value.dtype.kind != "f"
            or value.dtype.itemsize not in FLOAT_SIZES
        ):
            what = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise ArtifactError(f"{key} has dtype {what} (float16, float32 or float64 only)")
        total += value.nbytes
    if total > MAX_MODEL_BYTES:
        raise ArtifactError(
            f"the arrays weigh {total / 2**20:.0f} MiB (at most {MAX_MODEL_BYTES // 2**20} MiB)"
        )
    dims = _dims(arrays, layers, input_dim, num_classes)
    for key in want:
        value = arrays[key]
        i = _layer(key)
        shape = (dims[i - 1], dims[i]) if key[0] == "W" else (dims[i],)
        if value.shape != shape:
            raise ArtifactError(
                f"{key} has shape {value.shape}, expected {shape} (layer sizes {dims})"
            )
        if not np.isfinite(value).all():
            raise ArtifactError(f"{key} holds NaN or inf")
        if key.startswith("running_var") and (value < 0).any():
            raise ArtifactError(f"{key} holds a negative variance")
    params = {key: np.array(arrays[key], copy=True) for key in want}
    return Model(params, normalization, tuple(dims[1:-1]))


def _layer(key: str) -> int:
    """The layer number a key ends in (``running_mean3`` -> 3)."""
    return int(re.sub(r"^[A-Za-z_]+", "", key))


def _dims(
    arrays: Mapping[str, np.ndarray], layers: int, input_dim: int, num_classes: int
) -> list[int]:
    """Layer sizes ``[input_dim, d_1, ..., d_{L-1}, num_classes]`` read from the weights."""
    dims = [input_dim]
    for i in range(1, layers + 1):
        w = arrays[f"W{i}"]
        if w.ndim != 2 or w.shape[0] != dims[-1] or w.shape[1] < 1:
            raise ArtifactError(
                f"W{i} has shape {w.shape}; it must be ({dims[-1]}, d{i})"
                + (f": the network's input is {input_dim} numbers (3x32x32)" if i == 1 else "")
            )
        dims.append(w.shape[1])
    if dims[-1] != num_classes:
        last = arrays[f"W{layers}"].shape
        raise ArtifactError(
            f"W{layers} has shape {last}: the net must end in {num_classes} classes"
        )
    return dims


def _key_problem(layers: int, normalization: str, missing: list[str], extra: list[str]) -> str:
    if layers == 0:
        return "the model has no weights (W1, b1, ...)"
    parts = [f"a {layers}-layer net with normalization {normalization!r}"]
    if missing:
        parts.append("lacks " + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
    if extra:
        parts.append(
            "has unexpected "
            + ", ".join(repr(k[:40]) for k in extra[:8])
            + (" ..." if len(extra) > 8 else "")
        )
    return " ".join(parts)


def load_npz(path: Path) -> Model:
    """Read and validate an nngrader model file.

    Raises:
        ArtifactError: the file is too large, not a zip of ``.npy`` members, declares more than
            ``MAX_MODEL_BYTES`` of arrays, holds anything but float arrays and the
            ``normalization`` string, or fails ``from_arrays``.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ArtifactError(
                f"{path.name} is {size / 2**20:.0f} MiB (at most {MAX_FILE_BYTES // 2**20} MiB)"
            )
        with zipfile.ZipFile(path) as archive:
            infos = _check_directory(archive)
            arrays = {info.filename[:-4]: _read_member(archive, info) for info in infos}
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ArtifactError(
            f"{path.name} is not a readable .npz file ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    norm = arrays.pop("normalization", None)
    if norm is None:
        raise ArtifactError(
            'the file has no \'normalization\' array ("none", "batchnorm" or "layernorm")'
        )
    return from_arrays(arrays, str(norm[()]))


def _check_directory(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members, once their names and declared sizes are known to be acceptable."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArtifactError(f"the file holds {len(infos)} members (at most {MAX_MEMBERS})")
    names = [info.filename for info in infos]
    declared = sum(info.file_size for info in infos)
    if declared > MAX_MODEL_BYTES:
        # Nothing is decompressed yet: the directory alone says what reading would allocate.
        raise ArtifactError(
            f"the file declares {declared / 2**20:.0f} MiB of arrays once decompressed "
            f"(at most {MAX_MODEL_BYTES // 2**20} MiB)"
        )
    for info in infos:
        if not info.filename.endswith(".npy") or not _NAME.fullmatch(info.filename[:-4]):
            raise ArtifactError(f"member {info.filename[:60]!r} is not an array of the format")
        if names.count(info.filename) > 1 or info.flag_bits & 0x1:
            raise ArtifactError(f"member {info.filename!r} is repeated or encrypted")
    return infos


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One member's array, after its header has been checked against its declared size."""
    key = info.filename[:-4]
    with archive.open(info) as member:
        head = io.BytesIO(member.read(min(info.file_size, _NPY_HEAD_BYTES)))
    version = np.lib.format.read_magic(head)
    if version not in ((1, 0), (2, 0)):
        raise ArtifactError(f"{key} has .npy format version {version} (1.0 or 2.0 only)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shape, _fortran, dtype = (
            np.lib.format.read_array_header_1_0(head)
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0(head)
        )
    string = key == "normalization"
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ArtifactError(f"{key} has dtype {dtype} (object arrays are never loaded)")
    if string and not (dtype.kind in "US" and shape == () and dtype.itemsize <= 4 * _NORM_CHARS):
        raise ArtifactError(
            f"normalization must be a 0-d string array, not {dtype} of shape {shape}"
        )
    if not string and (dtype.kind != "f" or dtype.itemsize not in FLOAT_SIZES):
        raise ArtifactError(f"{key} has dtype {dtype} (float16, float32 or float64 only)")
    nbytes = math.prod(shape) * dtype.itemsize
    if head.tell() + nbytes != info.file_size:
        raise ArtifactError(
            f"{key}: its header says {shape} of {dtype}, which is not the member's size"
        )
    with archive.open(info) as member:
        array = np.lib.format.read_array(member, allow_pickle=False)
    return np.asarray(array)
