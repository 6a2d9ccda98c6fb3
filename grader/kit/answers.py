"""Recorded answers: values as plain JSON plus arrays, stored and matched without pickle.

A student kit's oracle (``grader.kit.tables``) holds the reference's answers to the questions
the public checks ask. Each question and answer is a value of the shapes checks pass around:
arrays, numpy scalars, numbers, strings, ``None``, dtypes, and tuples, lists and dicts of them
(a cache, a config, a list of ``bn_param`` dicts). ``encode`` turns one into JSON whose arrays are
names in an array store, the same array stored once however often it recurs; ``decode`` turns it
back. Anything else cannot be recorded (``TypeError``), so a kit never holds an object it could
only restore by running code.

``same`` decides whether a question asked now is one that was recorded: equal structure, equal
non-float values, and arrays equal up to the rounding a different BLAS or CPU gives (inputs made
by a matrix product on the student's laptop need not match the build machine's bit for bit).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

__all__ = ["Arrays", "decode", "encode", "same", "signature"]

Arrays = dict[str, np.ndarray]
"""Content name -> array: what ``np.savez`` writes and ``np.load(allow_pickle=False)`` reads."""

RTOL = 1e-9
"""How far a float array may be from the recorded one and still be the same question: far
looser than any rounding difference, far tighter than any tolerance a check applies."""
ATOL = 1e-12


def _array_name(array: np.ndarray, arrays: Arrays) -> str:
    data = np.array(array, order="C")  # a copy (0-d stays 0-d; ascontiguousarray makes it 1-d)
    digest = hashlib.sha256(f"{data.dtype.str}{data.shape}".encode())
    digest.update(data.tobytes())
    name = digest.hexdigest()[:24]
    arrays.setdefault(name, data)
    return name


def encode(value: Any, arrays: Arrays) -> Any:
    """``value`` as JSON, its arrays put into ``arrays`` by content.

    Raises:
        TypeError: ``value`` holds something that is not plain data.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"an array of dtype {value.dtype} cannot be recorded")
        return {"array": _array_name(value, arrays)}
    if isinstance(value, np.generic):
        return {"scalar": _array_name(np.asarray(value), arrays)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"dtype": np.dtype(value).str}
    if isinstance(value, np.dtype):
        return {"dtype_object": value.str}
    if isinstance(value, tuple):
        return {"tuple": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v, arrays) for k, v in value.items()}}
    raise TypeError(f"a {type(value).__name__} cannot be recorded")


def decode(data: Any, arrays: Arrays) -> Any:
    """The value ``encode`` turned into ``data`` (arrays copied: a check may change them)."""
    if isinstance(data, list):
        return [decode(v, arrays) for v in data]
    if not isinstance(data, dict):
        return data
    ((tag, inner),) = data.items()
    if tag == "array":
        return arrays[inner].copy()
    if tag == "scalar":
        return arrays[inner][()]
    if tag == "dtype":
        return np.dtype(inner).type
    if tag == "dtype_object":
        return np.dtype(inner)
    if tag == "tuple":
        return tuple(decode(v, arrays) for v in inner)
    return {k: decode(v, arrays) for k, v in inner.items()}


def signature(value: Any) -> str:
    """The structure of ``value`` (types, shapes, dtypes, keys, non-float values): questions
    with different signatures are never the same, so only equal ones are compared."""
    if isinstance(value, np.ndarray):
        return f"a{value.dtype.kind}{value.shape}"
    if isinstance(value, np.generic):
        return f"s{value.dtype.kind}"
    if isinstance(value, float):
        return "f"
    if isinstance(value, (tuple, list)):
        inner = ",".join(signature(v) for v in value)
        return f"{type(value).__name__[0]}[{inner}]"
    if isinstance(value, dict):
        return "d{" + ",".join(f"{k}:{signature(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def same(asked: Any, recorded: Any) -> bool:
    """Whether ``asked`` is the question ``recorded`` (both decoded, equal signatures)."""
    if isinstance(recorded, (np.ndarray, np.generic, float)):
        a, r = np.asarray(asked), np.asarray(recorded)
        if r.dtype.kind != "f":
            return bool(np.array_equal(a, r))
        return bool(np.allclose(a, r, rtol=RTOL, atol=ATOL, equal_nan=True))
    if isinstance(recorded, (tuple, list)):
        return all(same(a, r) for a, r in zip(asked, recorded, strict=True))
    if isinstance(recorded, dict):
        return all(same(asked[k], v) for k, v in recorded.items())
    return bool(asked == recorded)
