"""Values from the student's process become arrays only after their size is known."""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

import numpy as np
import pytest

from grader.numeric import MAX_BYTES, NotNumeric, numeric_array, real_number

SMALL = 16 * 2**20
"""Peak memory a refused conversion may cost (the values refused here would take gigabytes)."""


def refused_cheaply(value: Any, match: str, **kwargs: Any) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(NotNumeric, match=match):
            numeric_array(value, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < SMALL, f"refusing the value allocated {peak / 2**20:.1f} MiB"


def test_strings_are_sized_by_the_longest_one() -> None:
    """np.asarray pads every string to the longest: these 420 KB of JSON would take 8 GB."""
    value = ["x" * 20_000] + ["a"] * 100_000
    refused_cheaply(value, r"^a list that would take more than 256 MiB as an array$")


def test_one_array_named_many_times_is_sized_by_every_name() -> None:
    array = np.zeros(512)  # 4 KiB
    fits = MAX_BYTES // array.nbytes
    assert numeric_array([array] * 4, max_bytes=4 * array.nbytes).shape == (4, 512)
    refused_cheaply([array] * 5, "more than 0 MiB", max_bytes=4 * array.nbytes)
    refused_cheaply([array] * (fits + 1), "more than 256 MiB")


def test_the_widest_item_decides() -> None:
    """A bool array beside a float array becomes float64: 8 bytes a value, not 1."""
    value = [np.zeros(1000, dtype=bool), np.ones(1000)]
    assert numeric_array(value, max_bytes=8 * 2000).dtype == np.float64
    with pytest.raises(NotNumeric, match="would take more than"):
        numeric_array(value, max_bytes=8 * 2000 - 1)


def test_a_self_containing_list_is_refused_not_walked_forever() -> None:
    loop: list[Any] = []
    loop.append(loop)
    refused_cheaply(loop, "would take more than", max_bytes=1024)


def test_deep_nesting_is_walked_without_recursion() -> None:
    value: Any = 1.0
    for _ in range(100_000):
        value = [value]
    with pytest.raises(NotNumeric, match="ragged"):  # numpy's 64 dimensions, not our stack
        numeric_array(value)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (None, "None"),
        ({"a": 1}, "dict"),
        ("1.5", "str"),
        ([[1.0], [1.0, 2.0]], "a ragged list"),
        (["1", "2"], "an array of dtype <U1"),
        ([1.0, None], "an array of dtype object"),
        ([10**30], "an array of dtype object"),
        (np.array([1j]), "an array of dtype complex128"),
    ],
)
def test_what_is_not_numeric_is_named(value: Any, got: str) -> None:
    with pytest.raises(NotNumeric) as info:
        numeric_array(value)
    assert str(info.value) == got


def test_numeric_values_convert_as_numpy_does() -> None:
    array = np.arange(6.0).reshape(2, 3)
    assert numeric_array(array) is array  # decoded arrays were sized by the protocol
    assert numeric_array(2).shape == ()
    np.testing.assert_array_equal(numeric_array(([1, 2], (3, 4))), [[1, 2], [3, 4]])
    assert numeric_array([True, 2.5]).dtype == np.float64
    assert numeric_array([]).shape == (0,)


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (2, 2.0),
        (-1.5, -1.5),
        (np.float32(0.5), 0.5),
        (np.array([[3]]), 3.0),
        (10**400, math.inf),
        (-(10**400), -math.inf),
        (np.array(1e4000, dtype=np.longdouble), math.inf),
        (True, None),
        (np.bool_(False), None),
        (np.array([True]), None),
        (np.zeros(2), None),
        ("1", None),
        ([1.0], None),
        (None, None),
    ],
)
def test_real_number_reads_one_number_and_never_raises(value: Any, number: float | None) -> None:
    assert real_number(value) == number
