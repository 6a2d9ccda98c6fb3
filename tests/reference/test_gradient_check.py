"""Numerical gradients on functions with known gradients, and cs231n's ``rel_error``."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pytest

from reference.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    eval_numerical_gradient_blobs,
    eval_numerical_gradient_net,
    grad_check_sparse,
    rel_error,
)

SHAPES = [(1,), (7,), (3, 4), (2, 3, 2)]


# ---------------------------------------------------------------------------------------------
# rel_error


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (1.0, 1.0, 0.0),
        (1.0, 3.0, 0.5),  # |1-3| / (1+3)
        (-1.0, 1.0, 1.0),  # opposite signs: the maximum
        (0.0, 0.0, 0.0),  # 0 / max(1e-8, 0)
        (1e-9, 0.0, 0.1),  # the 1e-8 floor in the denominator
        ([1.0, 2.0, 0.0], [1.0, 3.0, 0.0], 0.2),  # the maximum over elements
    ],
)
def test_rel_error_definition(x: Any, y: Any, expected: float) -> None:
    assert rel_error(x, y) == pytest.approx(expected, rel=1e-12)
    assert rel_error(y, x) == rel_error(x, y)
    assert isinstance(rel_error(x, y), float)


@pytest.mark.parametrize("seed", [0, 1])
def test_rel_error_matches_the_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    expected = np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))
    assert rel_error(x, y) == expected


# ---------------------------------------------------------------------------------------------
# eval_numerical_gradient (scalar f)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_scalar_gradient_of_sum_of_squares(shape: tuple[int, ...], seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(shape)
    x0 = x.copy()
    grad = eval_numerical_gradient(lambda v: np.sum(v**2), x, verbose=False)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    assert rel_error(grad, 2 * x0) < 1e-8
    np.testing.assert_array_equal(x, x0)  # restored exactly


@pytest.mark.parametrize("seed", [0, 1])
def test_scalar_gradient_of_a_quadratic_form_on_a_fortran_array(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((4, 4))
    x = np.asfortranarray(rng.standard_normal((4, 3)))
    x0 = x.copy()
    grad = eval_numerical_gradient(lambda v: np.sum(v * (a @ v)), x, verbose=False)
    assert rel_error(grad, (a + a.T) @ x0) < 1e-7
    np.testing.assert_array_equal(x, x0)


def test_scalar_gradient_calls_f_once_more_than_twice_per_element() -> None:
    # The starters evaluate f(x) once before the loop; an f that draws must draw alike.
    calls = []

    def f(v: np.ndarray) -> float:
        calls.append(v.copy())
        return float(np.sum(v))

    x = np.arange(6.0).reshape(2, 3)
    eval_numerical_gradient(f, x, verbose=False)
    assert len(calls) == 2 * x.size + 1
    np.testing.assert_array_equal(calls[0], x)  # first call at the unperturbed point
    # then element (0, 0) up and down, in C order for a C-contiguous array
    assert calls[1][0, 0] == pytest.approx(1e-5) and calls[2][0, 0] == pytest.approx(-1e-5)
    assert calls[3][0, 1] == pytest.approx(1 + 1e-5)


def test_scalar_gradient_sees_the_change_through_shared_state() -> None:
    # The notebooks pass model.params[name] and ignore f's argument.
    params = {"W": np.array([[1.0, -2.0], [0.5, 3.0]])}
    grad = eval_numerical_gradient(lambda _: np.sum(params["W"] ** 3), params["W"], verbose=False)
    assert rel_error(grad, 3 * params["W"] ** 2) < 1e-8


@pytest.mark.parametrize("verbose", [True, False])
def test_scalar_gradient_verbose_prints_every_index(
    verbose: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.zeros((2, 3))
    eval_numerical_gradient(lambda v: np.sum(v), x, verbose=verbose)
    lines = capsys.readouterr().out.splitlines()
    if verbose:
        assert len(lines) == x.size
        assert lines[0].startswith("(0, 0) ")
        assert float(lines[0].split()[-1]) == pytest.approx(1.0)
    else:
        assert lines == []


def test_x_is_restored_when_f_raises() -> None:
    x = np.array([1.0, 2.0])

    def f(v: np.ndarray) -> float:
        if v[0] != 1.0:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError):
        eval_numerical_gradient(f, x, verbose=False)
    np.testing.assert_array_equal(x, [1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# eval_numerical_gradient_array (array-valued f contracted with df)


@pytest.mark.parametrize(("n", "d", "m"), [(1, 1, 1), (3, 4, 5), (6, 2, 3)])
@pytest.mark.parametrize("seed", [0, 1])
def test_array_gradient_of_a_linear_map(n: int, d: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((n, d)), rng.standard_normal((d, m))
    df = rng.standard_normal((n, m))
    x0, w0 = x.copy(), w.copy()
    dx = eval_numerical_gradient_array(lambda v: v @ w, x, df)
    dw = eval_numerical_gradient_array(lambda v: x @ v, w, df)
    assert rel_error(dx, df @ w0.T) < 1e-8
    assert rel_error(dw, x0.T @ df) < 1e-8
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("shape", SHAPES)
def test_array_gradient_copes_with_f_returning_a_view(shape: tuple[int, ...]) -> None:
    # e.g. dropout in test mode returns x itself; the results must be snapshots.
    rng = np.random.default_rng(2)
    x, df = rng.standard_normal(shape), rng.standard_normal(shape)
    grad = eval_numerical_gradient_array(lambda v: v, x, df)
    assert rel_error(grad, df) < 1e-9


@pytest.mark.parametrize("seed", [0, 1])
def test_array_gradient_of_an_elementwise_nonlinearity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, df = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    grad = eval_numerical_gradient_array(np.tanh, x, df)
    assert rel_error(grad, df * (1 - np.tanh(x) ** 2)) < 1e-8


# ---------------------------------------------------------------------------------------------
# blobs and nets


@dataclass
class Blob:
    vals: np.ndarray
    diffs: np.ndarray


def affine_into(x: Blob, w: Blob, out: Blob) -> None:
    out.vals[...] = x.vals @ w.vals


class AffineNet:
    def __init__(self, x: Blob, w: Blob, out: Blob) -> None:
        self.x, self.w, self.out = x, w, out

    def forward(self) -> None:
        affine_into(self.x, self.w, self.out)


def blobs(seed: int) -> tuple[Blob, Blob, Blob]:
    rng = np.random.default_rng(seed)
    x = Blob(rng.standard_normal((3, 4)), np.zeros((3, 4)))
    w = Blob(rng.standard_normal((4, 2)), np.zeros((4, 2)))
    out = Blob(np.zeros((3, 2)), rng.standard_normal((3, 2)))
    return x, w, out


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("via", ["blobs", "net"])
def test_blob_gradients(seed: int, via: str) -> None:
    x, w, out = blobs(seed)
    x0, w0 = x.vals.copy(), w.vals.copy()
    if via == "blobs":
        dx, dw = eval_numerical_gradient_blobs(affine_into, (x, w), out)
    else:
        dx, dw = eval_numerical_gradient_net(AffineNet(x, w, out), (x, w), out)
    assert rel_error(dx, out.diffs @ w0.T) < 1e-8
    assert rel_error(dw, x0.T @ out.diffs) < 1e-8
    np.testing.assert_array_equal(x.vals, x0)
    np.testing.assert_array_equal(w.vals, w0)


# ---------------------------------------------------------------------------------------------
# grad_check_sparse

LINE = re.compile(
    r"^numerical: -?\d+\.\d{6} analytic: -?\d+\.\d{6}, "
    r"relative error: \d\.\d{6}e[+-]\d\d$"
)


@pytest.mark.parametrize("shape", [(5,), (3, 4)])
@pytest.mark.parametrize("num_checks", [1, 7])
def test_grad_check_sparse_accepts_the_right_gradient(
    shape: tuple[int, ...], num_checks: int, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(0).standard_normal(shape) + 3.0  # away from 0
    x0 = x.copy()
    errors = grad_check_sparse(lambda v: np.sum(v**2), x, 2 * x, num_checks=num_checks)
    assert len(errors) == num_checks
    assert max(errors) < 1e-8
    np.testing.assert_array_equal(x, x0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == num_checks
    assert all(LINE.match(line) for line in lines), lines


def test_grad_check_sparse_flags_a_wrong_gradient(capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=(4, 4))
    # |2x - 3x| / (|2x| + |3x|) = 1/5 wherever it looks
    errors = grad_check_sparse(lambda v: np.sum(v**2), x, 3 * x, num_checks=5)
    np.testing.assert_allclose(errors, 0.2, rtol=1e-6)
    capsys.readouterr()


def legacy_state() -> tuple[Any, ...]:
    return cast(tuple[Any, ...], np.random.get_state())


def test_grad_check_sparse_samples_with_the_stdlib_random(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The starters draw indices with random.randrange, so seeding `random` fixes them.
    x = np.zeros((6, 5))
    analytic = np.arange(30.0).reshape(6, 5)  # distinct value per index, printed as "analytic"
    runs = []
    for _ in range(2):
        random.seed(42)
        numpy_state = legacy_state()[1].copy()
        grad_check_sparse(lambda v: 0.0, x, analytic, num_checks=4)
        np.testing.assert_array_equal(legacy_state()[1], numpy_state)  # numpy untouched
        runs.append(capsys.readouterr().out)
    random.seed(42)
    expected = [analytic[random.randrange(6), random.randrange(5)] for _ in range(4)]  # noqa: S311
    assert runs[0] == runs[1]
    printed = [float(line.split("analytic: ")[1].split(",")[0]) for line in runs[0].splitlines()]
    assert printed == expected


def test_grad_check_sparse_zero_over_zero_is_zero(capsys: pytest.CaptureFixture[str]) -> None:
    x = np.ones(3)
    assert grad_check_sparse(lambda v: 1.0, x, np.zeros(3), num_checks=2) == [0.0, 0.0]
    capsys.readouterr()
