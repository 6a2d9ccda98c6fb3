"""Layer functions of the canonical CS231n API (variants.md §1.1, §2.2): forward/backward pairs.

Every forward returns ``(out, cache)``; every backward takes ``(dout, cache)``. The functions keep
the starter's contract where it is not pure: batchnorm writes running statistics into
``bn_param``, and a ``seed`` in ``dropout_param`` reseeds the global RNG.

RNG contract (variants.md §9.1-9.2; graded checks replay the notebooks' seeded cells, so this is
part of the API): a train-mode ``dropout_forward`` call draws exactly one
``np.random.rand(*x.shape)`` from the global legacy generator, keeps a unit when ``U < p`` (``p`` is
the *keep* probability) and scales kept units by ``1 / p``; test mode draws nothing; with ``seed``
in ``dropout_param`` the generator is reseeded at the start of every call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "affine_backward", "affine_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "batchnorm_forward", "dropout_backward", "dropout_forward", "layernorm_backward",
    "layernorm_forward", "relu_backward", "relu_forward", "softmax_loss", "svm_loss",
]

Array = NDArray[np.floating[Any]]


def affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, tuple[Array, Array, Array]]:
    """Fully connected layer.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
        Inputs, flattened to (N, D) with D = d_1 ... d_k.
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple (x, w, b)

    Notes
    -----
    :math:`out = x_{flat} w + b`.
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout: Array, cache: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple (x, w, b) from the forward pass

    Returns
    -------
    dx : ndarray, shape like x
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)


def relu_forward(x: Array) -> tuple[Array, Array]:
    """ReLU, :math:`\\max(0, x)`. ``x``: ndarray of any shape; cache is ``x``."""
    return np.maximum(0, x), x


def relu_backward(dout: Array, cache: Array) -> Array:
    """Backward pass of ReLU: ``dout`` where the input was positive, else 0 (same shape)."""
    return dout * (cache > 0)


def softmax_loss(x: Array, y: NDArray[np.integer[Any]]) -> tuple[float, Array]:
    """Softmax cross-entropy averaged over the batch.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Class scores.
    y : ndarray of int, shape (N,)
        Labels in ``0..C-1``.

    Returns
    -------
    loss : float
    dx : ndarray, shape (N, C)
        :math:`(softmax(x) - onehot(y)) / N`.

    Notes
    -----
    Scores are shifted by their row maximum first, so large scores cannot overflow.
    """
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return float(loss), dx / n


def svm_loss(x: Array, y: NDArray[np.integer[Any]]) -> tuple[float, Array]:
    """Multiclass hinge loss (margin 1) averaged over the batch.

    ``x``: ndarray, shape (N, C) scores; ``y``: ndarray of int, shape (N,). Returns the loss and
    ``dx`` of shape (N, C). :math:`L = \\frac1N \\sum_i \\sum_{j \\ne y_i} \\max(0, x_{ij} - x_{iy_i} + 1)`.
    """
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(n), y] = 0
    positive = (margins > 0).astype(x.dtype)
    dx = positive.copy()
    dx[np.arange(n), y] -= positive.sum(axis=1)
    return float(margins.sum() / n), dx / n


def batchnorm_forward(x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]) -> tuple[Array, Any]:
    """Batch normalization (variants.md §1.1).

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarray, shape (D,)
    bn_param : dict
        ``mode`` ('train' or 'test', required), ``eps`` (1e-5), ``momentum`` (0.9),
        ``running_mean`` / ``running_var`` (shape (D,), zeros by default); the running
        statistics are written back.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple needed by the backward pass (None in test mode)

    Notes
    -----
    Train: :math:`\\hat x = (x - \\mu_B) / \\sqrt{\\sigma_B^2 + \\epsilon}` with the biased batch
    variance, :math:`out = \\gamma \\hat x + \\beta`, and
    :math:`running = m \\cdot running + (1 - m) \\cdot stat`. Test: the running statistics replace
    the batch statistics.
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache: Any = (x_hat, gamma, std)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        cache = None
    else:
        raise ValueError(f"Invalid forward batchnorm mode {mode!r}")
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    """Backward pass of batchnorm, staged through the computational graph.

    ``dout``: ndarray, shape (N, D). Returns ``dx`` (N, D), ``dgamma`` (D,), ``dbeta`` (D,).

    Notes
    -----
    With :math:`\\hat x = (x-\\mu)/s`, :math:`s = \\sqrt{\\sigma^2+\\epsilon}`:
    :math:`d\\hat x = dout\\,\\gamma`; :math:`ds = -\\sum d\\hat x\\,(x-\\mu)/s^2`;
    :math:`d\\sigma^2 = ds / (2s)`; :math:`dx = d\\hat x/s + 2(x-\\mu) d\\sigma^2/N + d\\mu/N` with
    :math:`d\\mu = -\\sum d\\hat x / s - 2 d\\sigma^2 \\sum (x-\\mu) / N` (the last sum is zero).
    """
    x_hat, gamma, std = cache
    n = dout.shape[0]
    centred = x_hat * std
    dx_hat = dout * gamma
    dstd = -(dx_hat * centred).sum(axis=0) / std**2
    dvar = dstd / (2 * std)
    dcentred = dx_hat / std + 2 * centred * dvar / n
    dmu = -dcentred.sum(axis=0)
    dx = dcentred + dmu / n
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_alt(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    """Closed-form batchnorm backward; equals :func:`batchnorm_backward`.

    Notes
    -----
    :math:`dx = \\frac{\\gamma}{N s}\\left(N\\,dout - \\sum dout - \\hat x \\sum dout\\,\\hat x\\right)`.
    """
    x_hat, gamma, std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / (n * std) * (n * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x: Array, gamma: Array, beta: Array, ln_param: dict[str, Any]) -> tuple[Array, Any]:
    """Layer normalization: each row normalized over its features (train and test alike).

    ``x``: ndarray, shape (N, D); ``gamma``, ``beta``: ndarray, shape (D,); ``ln_param``: ``eps``
    (1e-5); any ``mode`` key is ignored. Returns ``out`` (N, D) and the cache.
    """
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    x_hat = (x - mu) / std
    return gamma * x_hat + beta, (x_hat, gamma, std)


def layernorm_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    """Backward pass of layer norm: batchnorm's closed form applied along rows.

    ``dout``: ndarray, shape (N, D). Returns ``dx`` (N, D), ``dgamma`` (D,), ``dbeta`` (D,).
    """
    x_hat, gamma, std = cache
    d = dout.shape[1]
    dx_hat = dout * gamma
    dx = (d * dx_hat - dx_hat.sum(axis=1, keepdims=True)
          - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True)) / (d * std)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def dropout_forward(x: Array, dropout_param: dict[str, Any]) -> tuple[Array, tuple[dict[str, Any], Array | None]]:
    """Inverted dropout with ``p`` the keep probability (see the module's RNG contract).

    ``x``: ndarray of any shape; ``dropout_param``: ``p``, ``mode`` ('train'/'test'), optional
    ``seed``. Returns ``out`` (shape and dtype of x) and ``(dropout_param, mask)``.
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    return out.astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout: Array, cache: tuple[dict[str, Any], Array | None]) -> Array:
    """Backward pass of inverted dropout: ``dout * mask`` in train mode, ``dout`` in test mode."""
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
