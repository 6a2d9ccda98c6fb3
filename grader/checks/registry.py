"""The check implementations: ``IMPLEMENTATIONS[kind][subject] -> function(ctx)``.

Exactly what the catalogue (``grader.checks.catalog``) lists, and nothing else (a test holds the
two together). Adding a check for an existing kind and subject needs only TOML; a new subject
needs a catalogue entry and a function here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from grader.checks import dropout, layers, models, optim, training
from grader.checks.context import Context

__all__ = ["IMPLEMENTATIONS"]

IMPLEMENTATIONS: Mapping[str, Mapping[str, Callable[[Context], None]]] = {
    "value": {**layers.VALUE, **optim.VALUE},
    "gradient": layers.GRADIENT,
    "model_init": models.INIT,
    "model_loss": models.LOSS,
    "dropout": {**dropout.FORWARD, **dropout.BACKWARD},
    "solver": training.TRAIN,
}
