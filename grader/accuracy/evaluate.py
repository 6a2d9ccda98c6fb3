"""A validated model on a split, with the reference's forward pass, in the grading process.

The reference ``FullyConnectedNet`` (through the oracle: no other module reaches the solutions)
is built with the artifact's hidden sizes and normalization, given its parameters and, for
batchnorm, its running statistics, and run in test mode (``loss(X)``: no dropout, batchnorm on
the running statistics) in the artifact's precision. Rows go through in batches of
``BATCH_ROWS``, so memory stays bounded by one batch's activations whatever the split's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.accuracy.artifact import Model
from grader.accuracy.data import PIXELS, Split
from grader.checks.oracle import Model as RefNet
from grader.checks.oracle import Oracle

__all__ = ["BATCH_ROWS", "Measured", "measure", "reference_net"]

BATCH_ROWS = 1000
"""Rows per forward pass (1,000 rows of a 3072-600-... float64 net: about 30 MB activations)."""


@dataclass(frozen=True)
class Measured:
    """Right answers on one split."""

    correct: int
    total: int

    @property
    def fraction(self) -> float:
        """Accuracy in [0, 1]."""
        return self.correct / self.total


def reference_net(model: Model, oracle: Oracle, *, num_classes: int = 10) -> RefNet:
    """The reference net carrying ``model``'s parameters, ready for test-mode ``loss(X)``."""
    norm = None if model.normalization == "none" else model.normalization
    net = oracle.model(
        "FullyConnectedNet",
        hidden_dims=list(model.hidden_dims),
        input_dim=PIXELS,
        num_classes=num_classes,
        normalization=norm,
        dtype=model.dtype,
    )
    net.params = {
        k: v.astype(model.dtype) for k, v in model.params.items() if not k.startswith("running_")
    }
    if norm == "batchnorm":
        for i, bn_param in enumerate(getattr(net, "bn_params"), start=1):  # noqa: B009
            bn_param["running_mean"] = model.params[f"running_mean{i}"].astype(model.dtype)
            bn_param["running_var"] = model.params[f"running_var{i}"].astype(model.dtype)
    return net


def measure(model: Model, split: Split, mean: np.ndarray | None, oracle: Oracle) -> Measured:
    """``model``'s right answers on ``split`` (preprocessed with ``mean``, when given).

    Scores that are NaN (an overflow in a float16 or float32 net) are never right: ``argmax``
    of a row with NaN is that NaN's index, which is why rows are checked for finiteness.
    """
    net = reference_net(model, oracle)
    correct = 0
    total = len(split.labels)
    for start in range(0, total, BATCH_ROWS):
        x = split.batch(start, start + BATCH_ROWS, mean)
        with np.errstate(all="ignore"):
            scores = net.loss(x)
        right = np.argmax(scores, axis=1) == split.labels[start : start + BATCH_ROWS]
        correct += int(np.count_nonzero(right & np.isfinite(scores).all(axis=1)))
    return Measured(correct, total)
