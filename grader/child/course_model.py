"""The course's own model file, opened inside the sandbox (never in the grading process).

CS231n 2025-26 notebooks call ``model.save("....npy")``, which is ``np.save(path, params)``: a
pickled dict. Unpickling runs whatever the file says, so it happens here, in the student's
sandboxed process, and only raw float arrays go back through the protocol, where the grading
process validates them like any reply.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["load"]


def load(path: str) -> dict[str, Any]:
    """``{name: float array}`` of the params dict pickled in ``path``."""
    obj = np.load(path, allow_pickle=True)
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise ValueError(f"the file holds a {type(obj).__name__}, not a dict of arrays")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ValueError(f"entry {str(key)[:40]!r} is not a float array")
        out[key] = np.ascontiguousarray(value)
    return out
