"""TwoLayerNet and FullyConnectedNet (variants.md §1.2, §10).

RNG contract: construction draws one ``np.random.randn(fan_in, fan_out)`` per weight matrix in
layer order W1, W2, ..., WL from the global legacy generator and nothing for biases, gammas or
betas; the constructor's ``seed`` is used only for dropout (it goes into ``dropout_param``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.layer_utils import affine_relu_backward, affine_relu_forward, hidden_backward, hidden_forward
from reference.layers import affine_backward, affine_forward, softmax_loss

__all__ = ["FullyConnectedNet", "TwoLayerNet"]


class TwoLayerNet:
    """affine - relu - affine - softmax, with ``params`` W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""

    def __init__(self, input_dim: int = 3 * 32 * 32, hidden_dim: int = 100, num_classes: int = 10,
                 weight_scale: float = 1e-3, reg: float = 0.0) -> None:
        self.reg = reg
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        """Scores (N, C) when ``y`` is None, else ``(loss, grads)``.

        Notes
        -----
        :math:`L = \\text{softmax loss} + \\tfrac12 \\lambda (\\|W_1\\|^2 + \\|W_2\\|^2)`.
        """
        p = self.params
        hidden, cache1 = affine_relu_forward(X, p["W1"], p["b1"])
        scores, cache2 = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        dhidden, dW2, db2 = affine_backward(dscores, cache2)
        _, dW1, db1 = affine_relu_backward(dhidden, cache1)
        grads = {"W1": dW1 + self.reg * p["W1"], "b1": db1, "W2": dW2 + self.reg * p["W2"], "b2": db2}
        return loss, grads


class FullyConnectedNet:
    """{affine - [batch/layer norm] - relu - [dropout]} x (L-1) - affine - softmax.

    Parameters
    ----------
    hidden_dims : list of int
    input_dim, num_classes : int
    dropout_keep_ratio : float
        Keep probability; 1 disables dropout.
    normalization : None, 'batchnorm' or 'layernorm'
    reg, weight_scale : float
    dtype : numpy float type of every parameter and of the computation.
    seed : int or None
        Seed for dropout only (reseeds at every dropout call).
    bn_mode_line : 'fixed' or 'starter'
        'fixed' (canonical): ``loss(X)`` switches batchnorm to test mode. 'starter' reproduces the
        2016-lineage starter line ``bn_param[mode] = mode`` (UCLA, CS182): batchnorm stays in
        train mode even in ``loss(X)``; CS182's expected_bn_forward_output depends on it
        (variants.md §6.3).
    """

    def __init__(self, hidden_dims: list[int], input_dim: int = 3 * 32 * 32, num_classes: int = 10,
                 dropout_keep_ratio: float = 1, normalization: str | None = None, reg: float = 0.0,
                 weight_scale: float = 1e-2, dtype: Any = np.float32, seed: int | None = None,
                 bn_mode_line: str = "fixed") -> None:
        if bn_mode_line not in ("fixed", "starter"):
            raise ValueError(f"bn_mode_line must be 'fixed' or 'starter', not {bn_mode_line!r}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.bn_mode_line = bn_mode_line
        self.params: dict[str, np.ndarray] = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(fan_in, fan_out)
            self.params[f"b{i}"] = np.zeros(fan_out)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(fan_out)
                self.params[f"beta{i}"] = np.zeros(fan_out)
        self.dropout_param: dict[str, Any] = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params: list[dict[str, Any]] = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        """Scores (N, C) when ``y`` is None, else ``(loss, grads)`` keyed like ``params``.

        Notes
        -----
        :math:`L = \\text{softmax loss} + \\tfrac12 \\lambda \\sum_l \\|W_l\\|^2` (weights only).
        """
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode if self.bn_mode_line == "fixed" else "train"
        p = self.params
        out, caches = X, []
        for i in range(1, self.num_layers):
            norm = self.normalization
            out, cache = hidden_forward(
                out, p[f"W{i}"], p[f"b{i}"], p.get(f"gamma{i}"), p.get(f"beta{i}"),
                self.bn_params[i - 1] if norm else None, norm, self.dropout_param)
            caches.append(cache)
        L = self.num_layers
        scores, last_cache = affine_forward(out, p[f"W{L}"], p[f"b{L}"])
        if mode == "test":
            return scores
        loss, dout = softmax_loss(scores, y)
        grads: dict[str, np.ndarray] = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, last_cache)
        for i in range(L - 1, 0, -1):
            dout, grads[f"W{i}"], grads[f"b{i}"], dgamma, dbeta = hidden_backward(dout, caches[i - 1])
            if self.normalization:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(p[f"W{i}"] ** 2)
            grads[f"W{i}"] += self.reg * p[f"W{i}"]
        return loss, grads
