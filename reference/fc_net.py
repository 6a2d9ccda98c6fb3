"""``TwoLayerNet`` and ``FullyConnectedNet``, canonical modern API (variants.md §1.2, §2.2, §10).

RNG contract (variants.md §1.2, §9.1), which the graded notebook replays rely on: a constructor
draws one ``np.random.randn(fan_in, fan_out)`` per weight matrix, in layer order W1, W2, ..., WL,
from the global legacy generator, and nothing for biases, gammas or betas. ``loss`` draws only
through dropout (:mod:`reference.layers`). The ``seed`` of ``FullyConnectedNet`` is used only for
dropout: it goes into ``dropout_param`` and reseeds at every dropout call.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from numpy.typing import DTypeLike, NDArray

from reference.layer_utils import (
    NORMALIZATIONS,
    BlockCache,
    affine_norm_relu_dropout_backward,
    affine_norm_relu_dropout_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from reference.layers import FloatArray, IntArray, affine_backward, affine_forward, softmax_loss

__all__ = ["FullyConnectedNet", "TwoLayerNet"]

Grads = dict[str, FloatArray]


class TwoLayerNet:
    """Affine - ReLU - affine - softmax, with L2 regularisation on the weights.

    Parameters
    ----------
    input_dim : int
        D, the size of one (flattened) input.
    hidden_dim : int
        H.
    num_classes : int
        C.
    weight_scale : float
        Standard deviation of the initial weights.
    reg : float
        L2 strength.

    Attributes
    ----------
    params : dict of ndarray
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,), float64. Weights are
        ``weight_scale * randn``, W1 drawn before W2; biases are zero.
    reg : float
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
    ) -> None:
        self.reg = reg
        # Evaluated in this order on purpose: W1's randn must come before W2's (RNG contract).
        w1 = weight_scale * np.random.randn(input_dim, hidden_dim)
        w2 = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params: dict[str, FloatArray] = {
            "W1": w1,
            "b1": np.zeros(hidden_dim),
            "W2": w2,
            "b2": np.zeros(num_classes),
        }

    @overload
    def loss(self, X: FloatArray, y: None = None) -> FloatArray: ...
    @overload
    def loss(self, X: FloatArray, y: IntArray) -> tuple[float, Grads]: ...

    def loss(self, X: FloatArray, y: IntArray | None = None) -> FloatArray | tuple[float, Grads]:
        """Class scores, or the loss and its gradients.

        Parameters
        ----------
        X : ndarray, shape (N, d_1, ..., d_k)
            Inputs with d_1 * ... * d_k = D.
        y : ndarray of int, shape (N,), optional
            Labels; None asks for scores only.

        Returns
        -------
        scores : ndarray, shape (N, C)
            When ``y`` is None.
        loss, grads : float and dict of ndarray
            Otherwise; ``grads`` has the keys and shapes of ``params``.

        Notes
        -----
        :math:`L = \\mathrm{softmax\\ loss} + \\tfrac12 \\lambda (\\|W_1\\|^2 + \\|W_2\\|^2)`,
        so :math:`\\partial L / \\partial W_i` gains :math:`\\lambda W_i`; biases are not
        regularised.
        """
        p = self.params
        hidden, hidden_cache = affine_relu_forward(X, p["W1"], p["b1"])
        scores, scores_cache = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        dhidden, dw2, db2 = affine_backward(dscores, scores_cache)
        _, dw1, db1 = affine_relu_backward(dhidden, hidden_cache)
        grads = {"W1": dw1, "b1": db1, "W2": dw2, "b2": db2}
        for name in ("W1", "W2"):
            loss += 0.5 * self.reg * float(np.sum(p[name] * p[name]))
            grads[name] = grads[name] + self.reg * p[name]
        return loss, grads


class FullyConnectedNet:
    """``{affine - [batch/layer norm] - relu - [dropout]} x (L-1) - affine - softmax``.

    Parameters
    ----------
    hidden_dims : list of int
        Sizes H_1 .. H_{L-1} of the hidden layers.
    input_dim : int
        D, the size of one (flattened) input.
    num_classes : int
        C.
    dropout_keep_ratio : float
        Keep probability of every dropout layer, in (0, 1]; 1 turns dropout off.
    normalization : {None, 'batchnorm', 'layernorm'}
    reg : float
        L2 strength on the weights.
    weight_scale : float
        Standard deviation of the initial weights.
    dtype : numpy float dtype
        Of every parameter and of the computation (float64 for gradient checks).
    seed : int, optional
        Put into ``dropout_param`` so that every dropout call reseeds the global RNG; not used
        for the weights.
    bn_mode_line : {'fixed', 'starter'}
        Which line sets the batchnorm mode in :meth:`loss` (variants.md §1.6, §6.3, §9.6).
        ``'fixed'`` (canonical since 2017): ``bn_param['mode'] = mode``, so ``loss(X)`` normalises
        with the running statistics. ``'starter'``: the 2016-lineage line ``bn_param[mode] = mode``
        of UCLA and CS182, reproduced literally; it only adds a key named after the mode, so
        batchnorm stays in whatever mode ``bn_param['mode']`` holds ('train' from the
        constructor) even in ``loss(X)``. CS182's ``expected_bn_forward_output`` needs it.

    Attributes
    ----------
    params : dict of ndarray
        ``W{i}`` (fan_in, fan_out) and ``b{i}`` (fan_out,) for i = 1..L; with normalization also
        ``gamma{i}`` (ones) and ``beta{i}`` (zeros), shape (H_i,), for i = 1..L-1. All of ``dtype``.
    reg, num_layers, dtype, normalization, use_dropout :
        As given; ``num_layers`` = L = 1 + len(hidden_dims), ``use_dropout`` = keep ratio != 1.
    dropout_param : dict
        ``{}`` without dropout, else ``{'mode': 'train', 'p': keep}`` plus ``'seed'`` if given.
    bn_params : list of dict
        One separate dict per hidden layer: ``{'mode': 'train'}`` for batchnorm, ``{}`` for
        layernorm; empty list without normalization.

    Raises
    ------
    ValueError
        For an unknown ``normalization`` or ``bn_mode_line``, or a keep ratio outside (0, 1].
    """

    def __init__(
        self,
        hidden_dims: list[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        bn_mode_line: str = "fixed",
    ) -> None:
        if normalization is not None and normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be None or one of {sorted(NORMALIZATIONS)}, "
                f"got {normalization!r}"
            )
        if bn_mode_line not in ("fixed", "starter"):
            raise ValueError(f"bn_mode_line must be 'fixed' or 'starter', got {bn_mode_line!r}")
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio!r}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.bn_mode_line = bn_mode_line

        self.params: dict[str, FloatArray] = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            fan_in, fan_out = dims[i - 1], dims[i]
            # The only RNG draw of the constructor: one randn per weight matrix, in layer order.
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
            # A list comprehension, not [{...}] * n: each layer keeps its own running statistics.
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def _set_modes(self, mode: str) -> None:
        """Propagate train/test mode to dropout and batchnorm, as the chosen starter line does."""
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                if self.bn_mode_line == "fixed":
                    bn_param["mode"] = mode
                else:
                    bn_param[mode] = mode  # the starter's bug, kept verbatim (see class docstring)

    @overload
    def loss(self, X: NDArray[Any], y: None = None) -> FloatArray: ...
    @overload
    def loss(self, X: NDArray[Any], y: IntArray) -> tuple[float, Grads]: ...

    def loss(self, X: NDArray[Any], y: IntArray | None = None) -> FloatArray | tuple[float, Grads]:
        """Class scores, or the loss and its gradients.

        Parameters
        ----------
        X : ndarray, shape (N, d_1, ..., d_k)
            Inputs with d_1 * ... * d_k = input_dim, of any numeric dtype (cast to ``dtype``).
        y : ndarray of int, shape (N,), optional
            Labels. None means test mode (dropout off, batchnorm on running statistics unless
            ``bn_mode_line='starter'``) and returns scores only.

        Returns
        -------
        scores : ndarray, shape (N, C)
            When ``y`` is None.
        loss, grads : float and dict of ndarray
            Otherwise; ``grads`` has the keys and shapes of ``params``.

        Notes
        -----
        :math:`L = \\mathrm{softmax\\ loss} + \\tfrac12 \\lambda \\sum_{l=1}^{L} \\|W_l\\|^2`, so
        :math:`\\partial L / \\partial W_l` gains :math:`\\lambda W_l`; biases, gammas and betas
        are not regularised.
        """
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        self._set_modes(mode)

        p = self.params
        last = self.num_layers
        out = X
        caches: list[BlockCache] = []
        for i in range(1, last):
            norm = self.normalization
            out, cache = affine_norm_relu_dropout_forward(
                out,
                p[f"W{i}"],
                p[f"b{i}"],
                p.get(f"gamma{i}"),
                p.get(f"beta{i}"),
                self.bn_params[i - 1] if norm else None,
                norm,
                self.dropout_param,
            )
            caches.append(cache)
        scores, scores_cache = affine_forward(out, p[f"W{last}"], p[f"b{last}"])
        if y is None:
            return scores

        loss, dout = softmax_loss(scores, y)
        grads: Grads = {}
        dout, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dout, scores_cache)
        for i in range(last - 1, 0, -1):
            dout, dw, db, dgamma, dbeta = affine_norm_relu_dropout_backward(dout, caches[i - 1])
            grads[f"W{i}"], grads[f"b{i}"] = dw, db
            if dgamma is not None and dbeta is not None:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        for i in range(1, last + 1):
            w = p[f"W{i}"]
            loss += 0.5 * self.reg * float(np.sum(w * w))
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * w
        return loss, grads
