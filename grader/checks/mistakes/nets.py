"""Known mistakes of ``TwoLayerNet`` / ``FullyConnectedNet`` (variants.md §1.2, §10), as outputs
of the ``model_loss`` check: ``loss``, ``grads['<name>']``, ``scores = loss(X)``.

Not listed, because it cannot be observed: dropout applied before the ReLU where the course puts
it after. The mask is non-negative (0 or 1/keep), so relu(mask * a) == mask * relu(a): both
orders give the same outputs and gradients, and no check could tell them apart (nor does the
order change anything the student learns from).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference import fc_net
from reference import layers as L

Candidates = list[tuple[str, dict[str, Any]]]


def net_regularization(
    params: dict[str, np.ndarray], reg: float, loss: float, grads: dict[str, np.ndarray]
) -> Candidates:
    """L2 mistakes, from the reference's loss and gradients (L2 included) at the same ``params``.

    Each variant lists the loss and the gradient of every parameter whose L2 term it changes.
    """
    if reg == 0:
        return []
    weights = sorted((k for k in params if k.startswith("W")), key=lambda k: int(k[1:]))
    biases = [k for k in params if k.startswith("b")]
    others = [k for k in params if not k.startswith("W")]

    def l2(names: list[str]) -> float:
        return 0.5 * reg * sum(float(np.sum(params[k] ** 2)) for k in names)

    def grads_plus(names: list[str], sign: float = 1.0) -> dict[str, np.ndarray]:
        return {f"grads['{k}']": grads[k] + sign * reg * params[k] for k in names}

    last = weights[-1:]
    candidates = [
        (
            "the L2 term lacks the 0.5 factor (loss += 0.5 * reg * sum(W**2), grad += reg * W)",
            {"loss": loss + l2(weights), **grads_plus(weights)},
        ),
        (
            "the last layer's weights are not regularized; L2 applies to every W, W1 to "
            f"{weights[-1]}",
            {"loss": loss - l2(last), **grads_plus(last, -1.0)},
        ),
        (
            "biases (or gammas/betas) are regularized too; L2 applies to the weights W only",
            {"loss": loss + l2(others), **grads_plus(others)},
        ),
        (
            "the L2 term is in the loss but not in the gradients (add reg * W to each dW)",
            {"loss": loss, **grads_plus(weights, -1.0)},
        ),
        (
            "the L2 term is in the gradients but not in the loss (add 0.5 * reg * sum(W**2))",
            {"loss": loss - l2(weights), **grads_plus(weights, 0.0)},
        ),
    ]
    if len(biases) < len(others):  # with gammas and betas: biases alone regularized as well
        candidates.insert(
            3,
            (
                "biases are regularized too; L2 applies to the weights W only",
                {"loss": loss + l2(biases), **grads_plus(biases)},
            ),
        )
    return candidates


def net_fresh_bn_params(
    params: dict[str, np.ndarray], X: np.ndarray, kwargs: dict[str, Any]
) -> Candidates:
    """Test-mode scores (X: (N, D) → (N, C)) of a net whose running statistics are lost between
    calls (``self.bn_params`` rebuilt in ``loss``): a fresh reference net's, at zeros."""
    fresh = fc_net.FullyConnectedNet(**kwargs)
    fresh.params = {k: v.copy() for k, v in params.items()}
    return [
        (
            "the running statistics are lost between calls (bn_params rebuilt in loss?): build "
            "self.bn_params once, in __init__, so that test mode uses what training accumulated",
            {"scores = loss(X)": fresh.loss(X.copy())},
        )
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
