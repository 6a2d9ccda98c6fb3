"""Known mistakes of batch and layer normalization (variants.md §1.1), as outputs on the check's
inputs: ``[(message, {output name: expected array})]``.

Output names are the value check's: ``out``, ``bn_param['running_mean']``,
``bn_param['running_var']`` (``grader.checks.layers``), ``dx``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Candidates = list[tuple[str, dict[str, Any]]]

RM, RV = "bn_param['running_mean']", "bn_param['running_var']"

UPDATE = "running = momentum * running + (1 - momentum) * batch"


def _normalize(
    x: np.ndarray, mu: np.ndarray, var: np.ndarray, eps: float, gamma: Any = 1.0, beta: Any = 0.0
) -> np.ndarray:
    """``gamma * (x - mu) / sqrt(var + eps) + beta``; x: (N, D), the others (D,)."""
    out: np.ndarray = gamma * (x - mu) / np.sqrt(var + eps) + beta
    return out


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any]
) -> Candidates:
    """Forward mistakes on x: (N, D), gamma, beta: (D,); ``bn_param`` is the state before the
    call (its running statistics default to zeros, as the starters' do)."""
    eps, m = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    d = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(d))
    rv = bn_param.get("running_var", np.zeros(d))
    if bn_param.get("mode") == "test":
        return _test_mode(x, gamma, beta, rm, rv, eps, m)
    mu, var, var1 = x.mean(axis=0), x.var(axis=0), x.var(axis=0, ddof=1)
    out = _normalize(x, mu, var, eps, gamma, beta)
    new_rm = m * rm + (1 - m) * mu
    return [
        (
            "the variance is the unbiased (N-1) one; batchnorm uses the biased variance (divide "
            "by N)",
            {"out": _normalize(x, mu, var1, eps, gamma, beta), RV: m * rv + (1 - m) * var1},
        ),
        (
            "the running variance averages the unbiased (N-1) variance (PyTorch's convention) "
            "while the output uses the biased one; this course's running average uses the "
            "biased variance (divide by N)",
            {"out": out, RM: new_rm, RV: m * rv + (1 - m) * var1},
        ),
        (
            "running averages use momentum the wrong way round: " + UPDATE,
            {"out": out, RM: (1 - m) * rm + m * mu, RV: (1 - m) * rv + m * var},
        ),
        (
            "the running mean/variance are set to this batch's statistics; they must be running "
            "averages: " + UPDATE,
            {"out": out, RM: mu, RV: var},
        ),
        (
            "running_var averages the standard deviation; it must average the variance "
            "(the test-mode formula takes the square root itself)",
            {"out": out, RM: new_rm, RV: m * rv + (1 - m) * np.sqrt(var)},
        ),
        (
            "the running mean/variance are not updated (write them back into bn_param)",
            {"out": out, RM: rm, RV: rv},
        ),
    ]


def _test_mode(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    rm: np.ndarray,
    rv: np.ndarray,
    eps: float,
    m: float,
) -> Candidates:
    """Test-mode mistakes: test mode must only read the running statistics (shape (D,))."""
    mu, var = x.mean(axis=0), x.var(axis=0)
    rm2, rv2 = m * rm + (1 - m) * mu, m * rv + (1 - m) * var
    return [
        (
            "test mode normalizes with the batch statistics instead of the running averages",
            {"out": _normalize(x, mu, var, eps, gamma, beta)},
        ),
        (
            "test mode ignores gamma and beta (out = gamma * x_hat + beta in both modes)",
            {"out": _normalize(x, rm, rv, eps)},
        ),
        (
            "test mode adds the test batch to the running averages before normalizing; test "
            "mode must only read them (the test data would leak into the model)",
            {"out": _normalize(x, rm2, rv2, eps, gamma, beta), RM: rm2, RV: rv2},
        ),
        (
            "test mode updates the running averages with the test batch; test mode must leave "
            "them unchanged (the test data would leak into the model)",
            {"out": _normalize(x, rm, rv, eps, gamma, beta), RM: rm2, RV: rv2},
        ),
    ]


def batchnorm_after_warmup(
    warmup: list[np.ndarray],
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float = 1e-5,
    momentum: float = 0.9,
) -> Candidates:
    """Test-mode output after train calls on ``warmup`` batches, under each running-average mistake.

    The notebooks' test-time check: the running statistics the mistake accumulates decide the
    test-mode output, so the same mistakes that the train-mode check names are named here.
    """
    m = momentum

    def running(rule: str) -> tuple[np.ndarray, np.ndarray]:
        d = x.shape[1]
        rm, rv = np.zeros(d), np.zeros(d)
        for xs in warmup:
            mu, var = xs.mean(axis=0), xs.var(axis=0, ddof=1 if rule == "unbiased" else 0)
            if rule == "std":
                var = np.sqrt(var)
            if rule == "swapped":
                rm, rv = (1 - m) * rm + m * mu, (1 - m) * rv + m * var
            elif rule == "batch":
                rm, rv = mu, var
            elif rule != "frozen":
                rm, rv = m * rm + (1 - m) * mu, m * rv + (1 - m) * var
        return rm, rv

    def test_output(rule: str) -> np.ndarray:
        return _normalize(x, *running(rule), eps, gamma, beta)

    rm_std, r_std = running("std")
    return [
        (
            "the running variance averages the unbiased (N-1) variance; batchnorm's running "
            "average uses the biased variance (divide by N)",
            {"out": test_output("unbiased")},
        ),
        (
            "running averages use momentum the wrong way round: " + UPDATE,
            {"out": test_output("swapped")},
        ),
        (
            "the running mean/variance are not updated in train mode (write them back into "
            "bn_param), so test mode normalizes with their initial zeros",
            {"out": test_output("frozen")},
        ),
        (
            "the running mean/variance are set to the last batch's statistics in train mode; "
            "they must be running averages: " + UPDATE,
            {"out": test_output("batch")},
        ),
        (
            "running_var averages the standard deviation; it must average the variance",
            {"out": test_output("std")},
        ),
        (
            "running_var averages the standard deviation (and test mode divides by it); it must "
            "average the variance and test mode divide by sqrt(running_var + eps)",
            {"out": gamma * (x - rm_std) / (r_std + eps) + beta},
        ),
    ]


def batchnorm_backward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> Candidates:
    """Backward mistakes: a missing (non-zero) term of dx.

    (The part of d(mean) that flows through the variance is zero analytically, so leaving it out
    is not a mistake and is not listed.)
    """
    std = np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) / std
    dx_hat = dout * gamma
    return [
        (
            "dx is missing the term through the variance (-x_hat * mean(dx_hat * x_hat) / std)",
            {"dx": (dx_hat - dx_hat.mean(axis=0)) / std},
        ),
        (
            "dx is missing the term through the mean (-mean(dx_hat) / std)",
            {"dx": (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=0)) / std},
        ),
        (
            "dx ignores the batch statistics entirely (dx = dout * gamma / std)",
            {"dx": dx_hat / std},
        ),
    ]


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> Candidates:
    mu, var = x.mean(axis=0), x.var(axis=0)
    return [
        (
            "layer norm normalizes each row over its features (axis 1), not each feature over the "
            "batch",
            {"out": _normalize(x, mu, var, eps, gamma, beta)},
        )
    ]
