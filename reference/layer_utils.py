"""Composite layers (variants.md §2.2, §6.2): affine - [norm] - relu - [dropout], caches nested."""

from __future__ import annotations

from typing import Any

from reference.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
)

__all__ = ["affine_relu_backward", "affine_relu_forward", "hidden_backward", "hidden_forward"]

_NORMS = {"batchnorm": (batchnorm_forward, batchnorm_backward_alt),
          "layernorm": (layernorm_forward, layernorm_backward)}


def affine_relu_forward(x: Any, w: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    """affine -> relu. ``x`` (N, d_1..d_k), ``w`` (D, M), ``b`` (M,); out (N, M)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: Any, cache: tuple[Any, Any]) -> tuple[Any, Any, Any]:
    """Backward of :func:`affine_relu_forward`: returns dx, dw, db."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def hidden_forward(x: Any, w: Any, b: Any, gamma: Any = None, beta: Any = None,
                   norm_param: dict[str, Any] | None = None, normalization: str | None = None,
                   dropout_param: dict[str, Any] | None = None) -> tuple[Any, tuple[Any, ...]]:
    """One hidden block: affine - [batchnorm|layernorm] - relu - [dropout].

    ``x`` (N, D), ``w`` (D, H), ``b``/``gamma``/``beta`` (H,). Normalization runs when
    ``normalization`` is 'batchnorm' or 'layernorm'; dropout when ``dropout_param`` is non-empty.
    Returns out (N, H) and the nested caches.
    """
    out, fc_cache = affine_forward(x, w, b)
    norm_cache = None
    if normalization is not None:
        out, norm_cache = _NORMS[normalization][0](out, gamma, beta, norm_param)
    out, relu_cache = relu_forward(out)
    drop_cache = None
    if dropout_param:
        out, drop_cache = dropout_forward(out, dropout_param)
    return out, (fc_cache, norm_cache, relu_cache, drop_cache, normalization)


def hidden_backward(dout: Any, cache: tuple[Any, ...]) -> tuple[Any, Any, Any, Any, Any]:
    """Backward of :func:`hidden_forward`: dx, dw, db, dgamma, dbeta (the last two None without norm)."""
    fc_cache, norm_cache, relu_cache, drop_cache, normalization = cache
    if drop_cache is not None:
        dout = dropout_backward(dout, drop_cache)
    dout = relu_backward(dout, relu_cache)
    dgamma = dbeta = None
    if normalization is not None:
        dout, dgamma, dbeta = _NORMS[normalization][1](dout, norm_cache)
    dx, dw, db = affine_backward(dout, fc_cache)
    return dx, dw, db, dgamma, dbeta
