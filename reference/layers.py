"""Layer functions of the canonical CS231n API (variants.md §1.1, §2.2), as forward/backward pairs.

Every forward returns ``(out, cache)`` and every backward takes ``(dout, cache)``. Where the
starter's contract is impure, the reference keeps it: batchnorm writes its running statistics into
``bn_param``, and a ``seed`` in ``dropout_param`` reseeds the global RNG.

RNG contract of :func:`dropout_forward` (variants.md §9.1-9.2). The graded checks replay the
notebooks' seeded cells, so this is part of the API:

* ``p`` is the **keep** probability (2018+ semantics; a drop probability q of the older
  variants corresponds to p = 1 - q, variants.md §3.4).
* With ``'seed'`` in ``dropout_param``, ``np.random.seed(seed)`` runs at the start of **every**
  call, in either mode.
* A train-mode call draws exactly one ``U = np.random.rand(*x.shape)`` from the global legacy
  generator; ``mask = (U < p) / p`` and ``out = x * mask``.
* A test-mode call draws nothing and returns ``x`` unchanged.
* ``out`` is cast back to ``x.dtype``; the cache is ``(dropout_param, mask)``, with mask None in
  test mode.

Nothing else in this module touches an RNG.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "affine_backward",
    "affine_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "dropout_backward",
    "dropout_forward",
    "layernorm_backward",
    "layernorm_forward",
    "relu_backward",
    "relu_forward",
    "softmax_loss",
    "svm_loss",
]

FloatArray = NDArray[np.floating[Any]]
IntArray = NDArray[np.integer[Any]]
AffineCache = tuple[FloatArray, FloatArray, FloatArray]
#: (x_hat, gamma, std, x - mu, var, eps): enough for both the staged and the closed-form backward.
NormCache = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, float]
DropoutCache = tuple[dict[str, Any], FloatArray | None]


def affine_forward(x: FloatArray, w: FloatArray, b: FloatArray) -> tuple[FloatArray, AffineCache]:
    """Fully connected layer.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
        Inputs; each row is flattened to D = d_1 * ... * d_k features.
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple (x, w, b)

    Notes
    -----
    :math:`out = \\mathrm{reshape}(x, (N, D))\\, w + b`.
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(
    dout: FloatArray, cache: AffineCache
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple (x, w, b) from :func:`affine_forward`

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k)
        Same shape as the forward's ``x`` (not flattened).
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)

    Notes
    -----
    :math:`dx = dout\\, w^T`, :math:`dw = x_{flat}^T dout`, :math:`db = \\sum_n dout_n`.
    """
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)


def relu_forward(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Rectified linear unit.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, shape of x
    cache : ndarray, the input ``x``

    Notes
    -----
    :math:`out = \\max(0, x)` elementwise.
    """
    return np.maximum(0, x), x


def relu_backward(dout: FloatArray, cache: FloatArray) -> FloatArray:
    """Backward pass of :func:`relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape of x
    cache : ndarray, the forward's input ``x``

    Returns
    -------
    dx : ndarray, shape of x

    Notes
    -----
    :math:`dx = dout \\cdot 1[x > 0]` (the subgradient at 0 is taken as 0, as the starters do).
    """
    return dout * (cache > 0)


def softmax_loss(x: FloatArray, y: IntArray) -> tuple[float, FloatArray]:
    """Softmax cross-entropy, averaged over the batch.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Class scores.
    y : ndarray of int, shape (N,)
        Labels in ``0 .. C-1``.

    Returns
    -------
    loss : float
    dx : ndarray, shape (N, C)

    Notes
    -----
    :math:`L = -\\frac1N \\sum_i \\log \\frac{e^{x_{iy_i}}}{\\sum_j e^{x_{ij}}}`,
    :math:`dx = (\\mathrm{softmax}(x) - \\mathrm{onehot}(y)) / N`. Rows are shifted by their maximum
    first (log-sum-exp) so that large scores neither overflow nor give ``log(0)``.
    """
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].sum() / n
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return float(loss), dx / n


def svm_loss(x: FloatArray, y: IntArray) -> tuple[float, FloatArray]:
    """Multiclass hinge loss with margin 1, averaged over the batch.

    Parameters
    ----------
    x : ndarray, shape (N, C)
        Class scores.
    y : ndarray of int, shape (N,)
        Labels in ``0 .. C-1``.

    Returns
    -------
    loss : float
    dx : ndarray, shape (N, C)

    Notes
    -----
    :math:`L = \\frac1N \\sum_i \\sum_{j \\ne y_i} \\max(0, x_{ij} - x_{iy_i} + 1)`. Each positive
    margin adds :math:`1/N` to :math:`dx_{ij}` and subtracts :math:`1/N` from :math:`dx_{iy_i}`.
    """
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0  # the correct class is not compared with itself
    positive = margins > 0
    dx = positive.astype(x.dtype)
    dx[rows, y] -= positive.sum(axis=1)
    return float(margins.sum() / n), dx / n


def _normalize(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, eps: float, axis: int
) -> tuple[FloatArray, NormCache, FloatArray, FloatArray]:
    """Shared core of batch norm (axis 0) and layer norm (axis 1); returns out, cache, mu, var."""
    mu = x.mean(axis=axis, keepdims=True)
    centred = x - mu
    var = (centred**2).mean(axis=axis, keepdims=True)  # biased (divide-by-n) variance
    std = np.sqrt(var + eps)
    x_hat = centred / std
    return gamma * x_hat + beta, (x_hat, gamma, std, centred, var, eps), mu, var


def _normalize_backward(dout: FloatArray, cache: NormCache, axis: int) -> FloatArray:
    """Closed-form ``dx`` of :func:`_normalize` along ``axis``."""
    x_hat, gamma, std, _, _, _ = cache
    n = dout.shape[axis]
    dx_hat = dout * gamma
    dx: FloatArray = (
        n * dx_hat
        - dx_hat.sum(axis=axis, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=axis, keepdims=True)
    ) / (n * std)
    return dx


def batchnorm_forward(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, bn_param: dict[str, Any]
) -> tuple[FloatArray, NormCache | None]:
    """Batch normalization over the batch axis.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma : ndarray, shape (D,)
        Scale.
    beta : ndarray, shape (D,)
        Shift.
    bn_param : dict
        ``mode`` ('train' or 'test', required), ``eps`` (default 1e-5), ``momentum`` (default 0.9),
        ``running_mean`` and ``running_var`` (ndarray, shape (D,); default zeros of ``x.dtype``).
        The running statistics are written back in both modes, as the starter's tail does.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple for :func:`batchnorm_backward`, or None in test mode

    Raises
    ------
    ValueError
        If ``mode`` is neither 'train' nor 'test'.

    Notes
    -----
    Train: :math:`\\mu = \\frac1N \\sum_n x_n`, :math:`\\sigma^2 = \\frac1N \\sum_n (x_n - \\mu)^2`
    (biased), :math:`\\hat x = (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon}`,
    :math:`out = \\gamma \\hat x + \\beta`, and
    :math:`r \\leftarrow m\\, r + (1 - m)\\, s` for each running statistic r with batch statistic s.
    Test: :math:`out = \\gamma (x - r_\\mu) / \\sqrt{r_{\\sigma^2} + \\epsilon} + \\beta`.
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
    cache: NormCache | None = None
    if mode == "train":
        out, cache, mu, var = _normalize(x, gamma, beta, eps, axis=0)
        running_mean = momentum * running_mean + (1 - momentum) * mu[0]
        running_var = momentum * running_var + (1 - momentum) * var[0]
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError(f"Invalid forward batchnorm mode {mode!r} (expected 'train' or 'test')")
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def _train_cache(cache: NormCache | None) -> NormCache:
    if cache is None:
        raise ValueError("batchnorm backward needs the cache of a train-mode forward pass")
    return cache


def batchnorm_backward(
    dout: FloatArray, cache: NormCache | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Backward pass of train-mode :func:`batchnorm_forward`, staged through the graph.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple from a train-mode :func:`batchnorm_forward`

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)

    Notes
    -----
    One step per node of :math:`c = x - \\mu`, :math:`v = \\frac1N\\sum c^2`,
    :math:`s = \\sqrt{v + \\epsilon}`, :math:`\\hat x = c / s`,
    :math:`out = \\gamma\\hat x + \\beta`:
    :math:`d\\hat x = \\gamma\\, dout`; :math:`ds = -\\sum_n d\\hat x\\, c / s^2`;
    :math:`dv = ds / (2s)`; :math:`dc = d\\hat x / s + 2c\\, dv / N`;
    :math:`dx = dc - \\frac1N \\sum_n dc`.
    """
    x_hat, gamma, std, centred, _, _ = _train_cache(cache)
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dstd = -(dx_hat * centred).sum(axis=0) / std**2  # through x_hat = c / s
    dvar = dstd / (2 * std)  # through s = sqrt(v + eps)
    dcentred = dx_hat / std + 2 * centred * dvar / n  # both paths into c
    dmu = -dcentred.sum(axis=0)  # through c = x - mu
    return dcentred + dmu / n, dgamma, dbeta


def batchnorm_backward_alt(
    dout: FloatArray, cache: NormCache | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Closed-form backward pass of train-mode :func:`batchnorm_forward`.

    Same parameters and returns as :func:`batchnorm_backward`, to which it is equal up to rounding.

    Notes
    -----
    :math:`dx = \\frac{1}{N s}\\left(N\\, d\\hat x - \\sum_n d\\hat x
    - \\hat x \\sum_n d\\hat x\\, \\hat x\\right)` with :math:`d\\hat x = \\gamma\\, dout`.
    """
    cache = _train_cache(cache)
    dx = _normalize_backward(dout, cache, axis=0)
    return dx, (dout * cache[0]).sum(axis=0), dout.sum(axis=0)


def layernorm_forward(
    x: FloatArray, gamma: FloatArray, beta: FloatArray, ln_param: dict[str, Any]
) -> tuple[FloatArray, NormCache]:
    """Layer normalization: every row normalized over its own features.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma : ndarray, shape (D,)
    beta : ndarray, shape (D,)
    ln_param : dict
        ``eps`` (default 1e-5). Any other key (the notebooks pass ``mode``) is ignored: layer norm
        behaves the same at train and test time and keeps no running statistics.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple for :func:`layernorm_backward`

    Notes
    -----
    :math:`\\hat x_n = (x_n - \\mu_n) / \\sqrt{\\sigma_n^2 + \\epsilon}` with the mean and biased
    variance of row n, :math:`out = \\gamma \\hat x + \\beta`.
    """
    out, cache, _, _ = _normalize(x, gamma, beta, ln_param.get("eps", 1e-5), axis=1)
    return out, cache


def layernorm_backward(
    dout: FloatArray, cache: NormCache
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Backward pass of :func:`layernorm_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple from :func:`layernorm_forward`

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)

    Notes
    -----
    Batch norm's closed form along rows:
    :math:`dx_n = \\frac{1}{D s_n}(D\\, d\\hat x_n - \\sum_d d\\hat x_{nd}
    - \\hat x_n \\sum_d d\\hat x_{nd} \\hat x_{nd})`.
    """
    dx = _normalize_backward(dout, cache, axis=1)
    return dx, (dout * cache[0]).sum(axis=0), dout.sum(axis=0)


def dropout_forward(
    x: FloatArray, dropout_param: dict[str, Any]
) -> tuple[FloatArray, DropoutCache]:
    """Inverted dropout; see the module docstring for the RNG contract.

    Parameters
    ----------
    x : ndarray, any shape
    dropout_param : dict
        ``p`` (keep probability, 0 < p <= 1), ``mode`` ('train' or 'test'), optional ``seed``.

    Returns
    -------
    out : ndarray, shape and dtype of x
    cache : tuple (dropout_param, mask); mask is an ndarray shaped like x, None in test mode

    Raises
    ------
    ValueError
        If ``p`` is outside (0, 1] or ``mode`` is neither 'train' nor 'test' (checked before the
        RNG is touched).

    Notes
    -----
    Train: :math:`out = x \\cdot 1[U < p] / p`, so :math:`E[out] = x` and test time needs no
    rescaling. Test: :math:`out = x`.
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if not 0 < p <= 1:
        raise ValueError(f"dropout keep probability p must be in (0, 1], got {p!r}")
    if mode not in ("train", "test"):
        raise ValueError(f"Invalid forward dropout mode {mode!r} (expected 'train' or 'test')")
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    out = x
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    return out.astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout: FloatArray, cache: DropoutCache) -> FloatArray:
    """Backward pass of :func:`dropout_forward`.

    Parameters
    ----------
    dout : ndarray, shape of x
    cache : tuple (dropout_param, mask) from :func:`dropout_forward`

    Returns
    -------
    dx : ndarray, shape and dtype of dout

    Notes
    -----
    :math:`dx = dout \\cdot mask` after a train-mode forward, :math:`dx = dout` after a test-mode
    one.
    The branch follows the cached mask rather than ``dropout_param['mode']``, which a caller may
    have changed since the forward pass; the cast keeps float32 nets in float32.
    """
    _, mask = cache
    if mask is None:
        return dout
    return (dout * mask).astype(dout.dtype, copy=False)
