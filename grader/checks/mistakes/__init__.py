"""Known mistakes, as variants of the reference computed on the same inputs.

When a value check fails, the grader compares the student's outputs with each variant of the
subject; a diagnosis is shown only when one variant matches within the check's tolerance
(otherwise the report says nothing beyond the comparison). Each function returns
``[(message, {output name: expected array})]``. A variant lists every output its mistake
determines, the unchanged ones included, so that a diagnosis always matches all the evidence: a
stub that returns ``None`` is never named after a mistake in its running statistics.

By subject: ``normalization`` (batch and layer norm), ``update_rules``, ``nets``. Reached only
through the oracle (``grader.checks.oracle.LiveOracle.mistakes``), by function name.

Not mistakes, deliberately absent: RMSProp with epsilon inside the root (within tolerance of the
reference), softmax without the max shift (correct on ordinary inputs; an overflow on large
logits only earns an advisory note, see ``grader.checks.layers``), and the valid variants of
``grader.checks.accepted``.
"""

from __future__ import annotations

from typing import Any

from grader.checks.mistakes.nets import (
    net_batchnorm_order,
    net_fresh_bn_params,
    net_regularization,
)
from grader.checks.mistakes.normalization import (
    batchnorm_after_warmup,
    batchnorm_backward,
    batchnorm_forward,
    layernorm_forward,
)
from grader.checks.mistakes.update_rules import (
    adam,
    rmsprop,
    sgd_momentum,
    sgd_nesterov_momentum,
)

Candidates = list[tuple[str, dict[str, Any]]]

__all__ = [
    "Candidates",
    "adam",
    "batchnorm_after_warmup",
    "batchnorm_backward",
    "batchnorm_forward",
    "layernorm_forward",
    "net_batchnorm_order",
    "net_fresh_bn_params",
    "net_regularization",
    "rmsprop",
    "sgd_momentum",
    "sgd_nesterov_momentum",
]
