"""What each check kind can test: ``SUBJECTS[kind][subject] -> function(ctx)``.

A spec's check names a kind and a subject (a canonical function or class); adding a check for an
existing subject needs only TOML. A new subject needs a function here.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.context import Context
from grader.subjects import dropout, layers, models, optim, training

SUBJECTS: dict[str, dict[str, Callable[[Context], None]]] = {
    "value": {**layers.VALUE, **optim.VALUE},
    "gradient": layers.GRADIENT,
    "model_init": models.INIT,
    "model_loss": models.LOSS,
    "dropout": {**dropout.FORWARD, **dropout.BACKWARD},
    "solver": training.TRAIN,
}
