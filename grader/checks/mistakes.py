"""Known mistakes, as variants of the reference computed on the same inputs.

When a value check fails, the grader compares the student's outputs with each variant of the
subject; a diagnosis is shown only when one variant matches within the check's tolerance
(otherwise the report says nothing beyond the comparison). Each function below returns
``[(message, {output name: expected array})]``; only the outputs a mistake changes need appear.

Not mistakes, deliberately absent: RMSProp with epsilon inside the root (within tolerance of the
reference), and softmax without the max shift (correct on ordinary inputs; an overflow on large
logits only earns an advisory note, see ``grader.checks.layers``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference import layers as L

Candidates = list[tuple[str, dict[str, Any]]]


# -- batch normalization ----------------------------------------------------------------------


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any]
) -> Candidates:
    """Train-mode forward mistakes (bn_param is the state before the call)."""
    eps, m = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    d = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(d))
    rv = bn_param.get("running_var", np.zeros(d))
    mu, var, var1 = x.mean(axis=0), x.var(axis=0), x.var(axis=0, ddof=1)
    if bn_param.get("mode") == "test":
        return [
            (
                "test mode normalizes with the batch statistics instead of the running averages",
                {"out": gamma * (x - mu) / np.sqrt(var + eps) + beta},
            )
        ]
    return [
        (
            "the variance is the unbiased (N-1) one; batchnorm uses the biased variance (divide "
            "by N)",
            {
                "out": gamma * (x - mu) / np.sqrt(var1 + eps) + beta,
                "bn_param['running_var']": m * rv + (1 - m) * var1,
            },
        ),
        (
            "the running variance averages the unbiased (N-1) variance (PyTorch's convention) "
            "while the output "
            "uses the biased one; this course's running average uses the biased variance (divide "
            "by N)",
            {
                "out": gamma * (x - mu) / np.sqrt(var + eps) + beta,
                "bn_param['running_mean']": m * rm + (1 - m) * mu,
                "bn_param['running_var']": m * rv + (1 - m) * var1,
            },
        ),
        (
            "running averages use momentum the wrong way round: running = momentum * running + (1 "
            "- momentum) * batch",
            {
                "bn_param['running_mean']": (1 - m) * rm + m * mu,
                "bn_param['running_var']": (1 - m) * rv + m * var,
            },
        ),
        (
            "the running mean/variance are not updated (write them back into bn_param)",
            {"bn_param['running_mean']": rm, "bn_param['running_var']": rv},
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

    def test_output(rule: str) -> np.ndarray:
        d = x.shape[1]
        rm, rv = np.zeros(d), np.zeros(d)
        for xs in warmup:
            mu, var = xs.mean(axis=0), xs.var(axis=0, ddof=1 if rule == "unbiased" else 0)
            if rule == "swapped":
                rm, rv = (1 - m) * rm + m * mu, (1 - m) * rv + m * var
            elif rule != "frozen":
                rm, rv = m * rm + (1 - m) * mu, m * rv + (1 - m) * var
        out: np.ndarray = gamma * (x - rm) / np.sqrt(rv + eps) + beta
        return out

    return [
        (
            "the running variance averages the unbiased (N-1) variance; batchnorm's running "
            "average uses the "
            "biased variance (divide by N)",
            {"out": test_output("unbiased")},
        ),
        (
            "running averages use momentum the wrong way round: running = momentum * running + (1 "
            "- momentum) * batch",
            {"out": test_output("swapped")},
        ),
        (
            "the running mean/variance are not updated in train mode (write them back into "
            "bn_param), so test "
            "mode normalizes with their initial zeros",
            {"out": test_output("frozen")},
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
            {"out": gamma * (x - mu) / np.sqrt(var + eps) + beta},
        )
    ]


# -- update rules -----------------------------------------------------------------------------


def adam(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Candidates:
    lr, b1, b2, eps = (
        config.get(k, d)
        for k, d in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8))
    )
    m0, v0 = config.get("m", np.zeros_like(w)), config.get("v", np.zeros_like(w))
    t = config.get("t", 0)
    m = b1 * m0 + (1 - b1) * dw
    v = b2 * v0 + (1 - b2) * dw**2

    def step(tt: int) -> np.ndarray:
        out: np.ndarray = w - lr * (m / (1 - b1**tt)) / (np.sqrt(v / (1 - b2**tt)) + eps)
        return out

    return [
        (
            "Adam without bias correction (use m / (1 - beta1^t) and v / (1 - beta2^t))",
            {"next_w": w - lr * m / (np.sqrt(v) + eps)},
        ),
        (
            "t is incremented after it is used; increment t before computing the bias corrections",
            {"next_w": step(max(t, 1))} if t > 0 else {},
        ),
        (
            "the first and second moments are swapped in config (m holds the gradient mean, v its "
            "square)",
            {"config['m']": v, "config['v']": m},
        ),
    ]


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Candidates:
    lr, mu = config.get("learning_rate", 1e-2), config.get("momentum", 0.9)
    v0 = config.get("velocity", np.zeros_like(w))
    v = mu * v0 + dw
    return [
        (
            "momentum uses the other convention (v = mu*v + dw; w -= lr*v); this course uses "
            "v = mu*v - lr*dw; w += v",
            {"next_w": w - lr * v, "config['velocity']": v},
        )
    ]


def sgd_nesterov_momentum(w: np.ndarray, dw: np.ndarray, config: dict[str, Any]) -> Candidates:
    lr, mu = config.get("learning_rate", 1e-2), config.get("momentum", 0.9)
    v = mu * config.get("velocity", np.zeros_like(w)) - lr * dw
    return [
        (
            "this is plain momentum (w + v); Nesterov adds the look-ahead: w + v + mu * (v - "
            "v_prev)",
            {"next_w": w + v},
        )
    ]


# -- nets -------------------------------------------------------------------------------------
#
# Not listed, because it cannot be observed: dropout applied before the ReLU where the course puts
# it after. The mask is non-negative (0 or 1/keep), so relu(mask * a) == mask * relu(a): both
# orders give the same outputs and gradients, and no check could tell them apart (nor does the
# order change anything the student learns from).


def net_regularization(
    params: dict[str, np.ndarray], reg: float, loss: float, grads: dict[str, np.ndarray]
) -> Candidates:
    """L2 mistakes, from the reference's loss and gradients at the same parameters."""
    if reg == 0:
        return []
    weights = [k for k in params if k.startswith("W")]
    others = [k for k in params if not k.startswith("W")]
    sq_w = sum(float(np.sum(params[k] ** 2)) for k in weights)
    sq_o = sum(float(np.sum(params[k] ** 2)) for k in others)
    return [
        (
            "the L2 term lacks the 0.5 factor (loss += 0.5 * reg * sum(W**2), grad += reg * W)",
            {
                "loss": loss + 0.5 * reg * sq_w,
                **{f"grads['{k}']": grads[k] + reg * params[k] for k in weights},
            },
        ),
        (
            "biases (or gammas/betas) are regularized too; L2 applies to the weights W only",
            {
                "loss": loss + 0.5 * reg * sq_o,
                **{f"grads['{k}']": grads[k] + reg * params[k] for k in others},
            },
        ),
    ]


def net_batchnorm_order(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, num_layers: int
) -> Candidates:
    """Batchnorm placed after the ReLU, or also after the last affine (forward loss only)."""

    def loss(order: str) -> float:
        h = X.reshape(X.shape[0], -1)
        for i in range(1, num_layers):
            a = h @ params[f"W{i}"] + params[f"b{i}"]
            bn = {"mode": "train"}
            if order == "relu-bn":
                h, _ = L.batchnorm_forward(
                    np.maximum(a, 0), params[f"gamma{i}"], params[f"beta{i}"], bn
                )
            else:
                h = np.maximum(
                    L.batchnorm_forward(a, params[f"gamma{i}"], params[f"beta{i}"], bn)[0], 0
                )
        scores = h @ params[f"W{num_layers}"] + params[f"b{num_layers}"]
        if order == "last":
            scores = L.batchnorm_forward(
                scores, np.ones(scores.shape[1]), np.zeros(scores.shape[1]), {"mode": "train"}
            )[0]
        return L.softmax_loss(scores, y)[0]

    return [
        (
            "batchnorm is applied after the ReLU; the course's order is affine - batchnorm - relu",
            {"loss": loss("relu-bn")},
        ),
        (
            "batchnorm is also applied after the last affine layer (the scores are not normalized)",
            {"loss": loss("last")},
        ),
    ]
