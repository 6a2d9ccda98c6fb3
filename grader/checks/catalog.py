"""The catalogue of check kinds: pure data, importable without any check implementation.

A spec's check names a ``kind`` and a ``subject`` (a canonical function or class of the reference
API). This module says which kinds exist, which subjects each can test, which ``params`` keys each
reads, and which of the student's modules a check of each kind imports. Spec validation reads it;
``grader.checks`` implements exactly what it lists (a test holds the two together).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["KINDS", "SUBJECT_MODULES", "Kind", "known_names", "module_of", "modules_needed"]

LAYER_FORWARDS = ("affine_forward", "relu_forward", "batchnorm_forward", "layernorm_forward")
LAYER_BACKWARDS = (
    "affine_backward",
    "relu_backward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_backward",
)
LOSSES = ("softmax_loss", "svm_loss")
UPDATE_RULES = ("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam")
NETS = ("TwoLayerNet", "FullyConnectedNet")

_NET_PARAMS = (
    "hidden_dims",
    "hidden_dim",
    "input_dim",
    "num_classes",
    "weight_scale",
    "dtype",
    "normalization",
    "dropout_keep",
    "dropout_seed",
    "reg",
)


@dataclass(frozen=True)
class Kind:
    """One kind of check."""

    subjects: tuple[str, ...]
    """Canonical functions or classes a check of this kind can test."""
    params: tuple[str, ...]
    """The ``params`` keys it reads (a misspelt key would otherwise be ignored silently)."""
    also_imports: tuple[str, ...] = ()
    """Logical student modules it imports besides its subject's (training imports ``optim``)."""


KINDS: Mapping[str, Kind] = {
    "value": Kind(
        subjects=(*LAYER_FORWARDS, *LAYER_BACKWARDS, *LOSSES, *UPDATE_RULES),
        params=(
            "mode",
            "eps",
            "momentum",
            "scale",
            "shift",
            "warmup",
            "fixture",
            "learning_rate",
            "decay_rate",
            "beta1",
            "beta2",
            "epsilon",
            "t",
            "fresh",
        ),
    ),
    "gradient": Kind(subjects=(*LAYER_BACKWARDS, *LOSSES), params=("h", "scale", "shift", "mode")),
    "model_init": Kind(subjects=NETS, params=_NET_PARAMS),
    "model_loss": Kind(
        subjects=NETS,
        params=(*_NET_PARAMS, "num_inputs", "linspace", "labels", "perturb", "scores"),
    ),
    "dropout": Kind(subjects=("dropout_forward", "dropout_backward"), params=("keep", "shift")),
    "solver": Kind(
        subjects=("FullyConnectedNet",),
        params=(
            "update_rule",
            "learning_rate",
            "hidden_dims",
            "num_epochs",
            "batch_size",
            "num_train",
            "num_val",
            "image_size",
            "min_accuracy",
            "weight_scale",
            "reg",
            "lr_decay",
        ),
        also_imports=("optim",),
    ),
}
"""Kind name -> what it can test and read."""

SUBJECT_MODULES: Mapping[str, str] = {
    **{name: "optim" for name in UPDATE_RULES},
    **{name: "fc_net" for name in NETS},
}
"""Canonical name -> the logical student module defining it (everything else: ``layers``)."""


def module_of(canonical: str) -> str:
    """Logical student module that defines a canonical function or class."""
    return SUBJECT_MODULES.get(canonical, "layers")


def modules_needed(kind: str, subject: str, declared: Mapping[str, str]) -> list[str]:
    """Logical student modules a check imports, in import order, among those ``declared``."""
    needed = [module_of(subject), *KINDS[kind].also_imports]
    return [m for m in needed if m in declared]


def known_names() -> frozenset[str]:
    """Every canonical function or class name a spec may name (``names``, ``not_student_work``)."""
    return frozenset({s for kind in KINDS.values() for s in kind.subjects} | set(SUBJECT_MODULES))
