"""Composite layers built from :mod:`reference.layers` (variants.md §2.2, §6.2).

Each composite chains forward functions and nests their caches; its backward unwinds them in
reverse order. Names:

* :func:`affine_relu_forward` / :func:`affine_relu_backward`: affine - relu (the starters' given
  helper; cache ``(fc_cache, relu_cache)``).
* :func:`affine_norm_relu_forward` / :func:`affine_norm_relu_backward`: affine - batchnorm or
  layernorm - relu (CS182's ``affine_bn_relu_*`` generalised to both norms).
* :func:`affine_norm_relu_dropout_forward` / :func:`affine_norm_relu_dropout_backward`: one hidden
  block of ``FullyConnectedNet``, affine - [norm] - relu - [dropout], each optional part switched by
  its argument. ``hidden_forward`` / ``hidden_backward`` are older names of the same pair.

No composite draws random numbers itself; only dropout does (see :mod:`reference.layers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reference.layers import (
    AffineCache,
    DropoutCache,
    FloatArray,
    NormCache,
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
)

__all__ = [
    "NORMALIZATIONS",
    "affine_norm_relu_backward",
    "affine_norm_relu_dropout_backward",
    "affine_norm_relu_dropout_forward",
    "affine_norm_relu_forward",
    "affine_relu_backward",
    "affine_relu_forward",
]

AffineReluCache = tuple[AffineCache, FloatArray]
AffineNormReluCache = tuple[str, AffineCache, NormCache | None, FloatArray]
#: (core_cache, dropout_cache): core_cache from affine_relu or affine_norm_relu.
BlockCache = tuple[AffineReluCache | AffineNormReluCache, DropoutCache | None]

_NormForward = Callable[
    [FloatArray, FloatArray, FloatArray, dict[str, Any]], tuple[FloatArray, Any]
]
_NormBackward = Callable[[FloatArray, Any], tuple[FloatArray, FloatArray, FloatArray]]
#: The normalizations a hidden block accepts, keyed by the ``normalization`` strings of 2018+.
NORMALIZATIONS: dict[str, tuple[_NormForward, _NormBackward]] = {
    "batchnorm": (batchnorm_forward, batchnorm_backward),
    "layernorm": (layernorm_forward, layernorm_backward),
}


def affine_relu_forward(
    x: FloatArray, w: FloatArray, b: FloatArray
) -> tuple[FloatArray, AffineReluCache]:
    """Affine layer followed by a ReLU.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple (fc_cache, relu_cache)

    Notes
    -----
    :math:`out = \\max(0, x_{flat} w + b)`.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(
    dout: FloatArray, cache: AffineReluCache
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Backward pass of :func:`affine_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple (fc_cache, relu_cache)

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k)
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    """
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def _norm_functions(normalization: str) -> tuple[_NormForward, _NormBackward]:
    try:
        return NORMALIZATIONS[normalization]
    except KeyError:
        raise ValueError(
            f"normalization must be one of {sorted(NORMALIZATIONS)}, got {normalization!r}"
        ) from None


def affine_norm_relu_forward(
    x: FloatArray,
    w: FloatArray,
    b: FloatArray,
    gamma: FloatArray,
    beta: FloatArray,
    norm_param: dict[str, Any],
    normalization: str,
) -> tuple[FloatArray, AffineNormReluCache]:
    """Affine - batchnorm or layernorm - ReLU.

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)
    gamma : ndarray, shape (M,)
    beta : ndarray, shape (M,)
    norm_param : dict
        ``bn_param`` or ``ln_param``; batchnorm updates its running statistics in it.
    normalization : {'batchnorm', 'layernorm'}

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple (normalization, fc_cache, norm_cache, relu_cache)

    Raises
    ------
    ValueError
        For an unknown ``normalization`` (or, from batchnorm, an invalid mode).

    Notes
    -----
    :math:`out = \\max(0, \\mathrm{norm}(x_{flat} w + b; \\gamma, \\beta))`.
    """
    norm_forward, _ = _norm_functions(normalization)
    a, fc_cache = affine_forward(x, w, b)
    a, norm_cache = norm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(a)
    return out, (normalization, fc_cache, norm_cache, relu_cache)


def affine_norm_relu_backward(
    dout: FloatArray,
    cache: AffineNormReluCache,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Backward pass of :func:`affine_norm_relu_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple from :func:`affine_norm_relu_forward`

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k)
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    dgamma : ndarray, shape (M,)
    dbeta : ndarray, shape (M,)
    """
    normalization, fc_cache, norm_cache, relu_cache = cache
    _, norm_backward = _norm_functions(normalization)
    da, dgamma, dbeta = norm_backward(relu_backward(dout, relu_cache), norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def affine_norm_relu_dropout_forward(
    x: FloatArray,
    w: FloatArray,
    b: FloatArray,
    gamma: FloatArray | None = None,
    beta: FloatArray | None = None,
    norm_param: dict[str, Any] | None = None,
    normalization: str | None = None,
    dropout_param: dict[str, Any] | None = None,
) -> tuple[FloatArray, BlockCache]:
    """One hidden block of ``FullyConnectedNet``: affine - [norm] - ReLU - [dropout].

    Parameters
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M)
    b : ndarray, shape (M,)
    gamma, beta : ndarray, shape (M,), optional
        Needed when ``normalization`` is set.
    norm_param : dict, optional
        ``bn_param``/``ln_param``; None stands for ``{}``.
    normalization : {None, 'batchnorm', 'layernorm'}
        None skips normalization.
    dropout_param : dict, optional
        None or ``{}`` skips dropout (the net's ``dropout_param`` is ``{}`` when dropout is off);
        otherwise it is passed to :func:`reference.layers.dropout_forward`, RNG contract included.

    Returns
    -------
    out : ndarray, shape (N, M)
    cache : tuple (core_cache, dropout_cache); dropout_cache is None without dropout

    Notes
    -----
    :math:`out = \\mathrm{dropout}(\\max(0, \\mathrm{norm}(x_{flat} w + b)))`.
    """
    core_cache: AffineReluCache | AffineNormReluCache
    if normalization is None:
        out, core_cache = affine_relu_forward(x, w, b)
    else:
        if gamma is None or beta is None:
            raise ValueError(f"normalization {normalization!r} needs gamma and beta")
        out, core_cache = affine_norm_relu_forward(
            x, w, b, gamma, beta, {} if norm_param is None else norm_param, normalization
        )
    dropout_cache = None
    if dropout_param:
        out, dropout_cache = dropout_forward(out, dropout_param)
    return out, (core_cache, dropout_cache)


def affine_norm_relu_dropout_backward(
    dout: FloatArray,
    cache: BlockCache,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
    """Backward pass of :func:`affine_norm_relu_dropout_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    cache : tuple from :func:`affine_norm_relu_dropout_forward`

    Returns
    -------
    dx : ndarray, shape (N, d_1, ..., d_k)
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
    dgamma, dbeta : ndarray, shape (M,), or None when the block had no normalization
    """
    core_cache, dropout_cache = cache
    if dropout_cache is not None:
        dout = dropout_backward(dout, dropout_cache)
    if len(core_cache) == 4:  # (normalization, fc_cache, norm_cache, relu_cache)
        return affine_norm_relu_backward(dout, core_cache)
    dx, dw, db = affine_relu_backward(dout, core_cache)  # (fc_cache, relu_cache)
    return dx, dw, db, None, None


# Older names of the hidden block, kept for existing callers.
hidden_forward = affine_norm_relu_dropout_forward
hidden_backward = affine_norm_relu_dropout_backward
