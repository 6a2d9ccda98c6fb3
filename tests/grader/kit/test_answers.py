"""Recorded values: plain data round-trips exactly, nothing else is recorded, and a question
matches a recorded one through rounding noise but not through a real difference."""

from __future__ import annotations

import numpy as np
import pytest

from grader.kit.answers import Arrays, decode, encode, same, signature


def round_trip(value: object) -> object:
    arrays: Arrays = {}
    return decode(encode(value, arrays), arrays)


def test_plain_data_round_trips_with_types_kept() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    value = {
        "cache": (x, np.float64(0.5), {"mode": "train", "eps": 1e-5}, [1, None, True]),
        "dtype": np.float32,
        "dt": np.dtype("float64"),
    }
    back = round_trip(value)
    assert isinstance(back, dict)
    cache = back["cache"]
    assert isinstance(cache, tuple)
    assert cache[0].dtype == np.float32 and np.array_equal(cache[0], x)
    assert isinstance(cache[1], np.float64) and cache[1] == 0.5
    assert cache[2] == {"mode": "train", "eps": 1e-5}
    assert cache[3] == [1, None, True]
    assert back["dtype"] is np.float32 and back["dt"] == np.dtype("float64")


def test_an_array_recurring_is_stored_once_and_decoded_as_copies() -> None:
    x = np.ones(4)
    arrays: Arrays = {}
    data = encode([x, x, x.copy()], arrays)
    assert len(arrays) == 1
    first, second, _ = decode(data, arrays)
    first[0] = 7.0
    assert second[0] == 1.0  # a check may change what it is given


@pytest.mark.parametrize(
    "value", [object(), {1: "int key"}, np.array(["text"]), np.array([object()]), lambda: 0]
)
def test_anything_but_plain_data_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        encode(value, {})


def test_same_question_through_rounding_noise_only() -> None:
    rng = np.random.RandomState(0)
    x = rng.randn(5, 4)
    noisy = x * (1 + 1e-13)
    assert signature(noisy) == signature(x)
    assert same((noisy, {"p": 0.5}), (x, {"p": 0.5}))
    assert not same((x + 1e-6, {"p": 0.5}), (x, {"p": 0.5}))
    assert not same((x, {"p": 0.25}), (x, {"p": 0.5}))
    assert not same(np.array([1, 2]), np.array([1, 3]))


def test_signatures_tell_structures_apart() -> None:
    x = np.zeros((2, 3))
    assert signature(x) != signature(x.T)
    assert signature((x,)) != signature([x])
    assert signature({"a": x}) != signature({"b": x})
    assert signature("train") != signature("test")
