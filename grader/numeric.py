"""Values from the student's process as numbers and numeric arrays, sized before numpy allocates.

A reply's values are plain data of bounded weight (``grader.child.protocol.decode`` counts every
reference to an array), but ``np.asarray`` over a list can still allocate far more than the list:
it pads every string to the longest one (100,000 one-letter strings and one of 20,000 letters
become an 8 GB ``<U20000`` array), and a list may name more values than any result may hold. The
grading process has no memory limit, so every conversion of a value that came from the child
goes through here:

* ``numeric_array`` works out what ``np.asarray`` would allocate (values times the widest item) by
  walking the value without recursion, refuses it above ``max_bytes``, and only then converts;
* ``real_number`` reads one number (a Python int beyond the float range is ±inf, where
  ``float()`` would raise ``OverflowError``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grader.child import protocol

__all__ = ["MAX_BYTES", "NotNumeric", "numeric_array", "real_number"]

MAX_BYTES = protocol.MAX_PAYLOAD
"""Most one converted value may take: the protocol's limit on what a reply's values weigh."""
NUMERIC = "biuf"
_ITEM_BYTES = 8
"""Bytes of one number (int64, float64) or one object pointer in the converted array."""
_STR_ITEM_BYTES = 4 * 64
"""Bytes of one item of a list holding strings: numpy writes a number among strings in up to 48
UCS-4 characters (``<U32`` for a float, ``<U48`` for a long double); 64 leaves room."""


class NotNumeric(ValueError):
    """A value that does not convert to a numeric array; the message completes "got ..."."""


def numeric_array(value: Any, *, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """``value`` as a numeric (bool, int or float) array, never allocating more than ``max_bytes``.

    Args:
        value: an ndarray (returned as it is), a number, or lists and tuples of them nested to
            any shape ``(d1, ..., dk)``.
        max_bytes: most bytes the converted array may take.

    Returns:
        The array, of the shape numpy gives the nesting (``()`` for a number).

    Raises:
        NotNumeric: ``value`` is None or of another type, ragged, too large, or converts to a
            non-numeric dtype; the message names which, in the grader's words.
    """
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (bool, int, float, np.number, list, tuple)):
        _check_size(value, max_bytes)
        try:
            array = np.asarray(value)
        except ValueError:
            raise NotNumeric(f"a ragged {type(value).__name__}") from None
    else:
        raise NotNumeric("None" if value is None else type(value).__name__)
    if array.dtype.kind not in NUMERIC:
        raise NotNumeric(f"an array of dtype {array.dtype}")
    return array


def _check_size(value: Any, max_bytes: int) -> None:
    """Refuse ``value`` when ``np.asarray(value)`` would take more than ``max_bytes``.

    numpy allocates (number of values) * (widest item): each array counts its size and its item
    size, any other leaf one value of 8 bytes, and a string makes every item at least
    ``_STR_ITEM_BYTES`` wide (4 bytes a character). The walk uses a stack, not recursion, and
    stops at the first node over the budget, so its own cost is bounded by ``max_bytes`` too.
    """
    values = nodes = 0
    item = _ITEM_BYTES
    stack = [value]
    while stack:
        node = stack.pop()
        nodes += 1
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, np.ndarray):
            values += node.size
            item = max(item, node.dtype.itemsize)
        else:
            values += 1
            if isinstance(node, str):
                item = max(item, _STR_ITEM_BYTES, 4 * len(node))
        if values * item > max_bytes or nodes * _ITEM_BYTES > max_bytes:
            raise NotNumeric(
                f"a {type(value).__name__} that would take more than "
                f"{max_bytes / 2**20:.0f} MiB as an array"
            )


def real_number(value: Any) -> float | None:
    """``value`` as a float when it is one real number, else None.

    A number is an int or a float (numpy's too, never a bool) or a one-element int or float
    array; a Python int beyond the float range becomes ±inf (``float()`` would raise).
    """
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        value = value.reshape(-1)[0]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        return None
    try:
        with np.errstate(over="ignore"):  # a long double beyond float64 is ±inf, like an int
            return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
