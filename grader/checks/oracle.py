"""The oracle: every expected value a check needs, every known mistake's output and every valid
variant's, behind one interface.

Checks never import the reference's solution modules (``reference.layers``, ``layer_utils``,
``optim``, ``fc_net``) themselves: they ask the ``Oracle`` of their context. The full grader backs
it with the live reference (``LiveOracle``); a student kit, which must not contain the
solutions, backs it with tables recorded for the public checks' inputs (``grader.kit.tables``).
Such an oracle is not ``live``: it answers only the inputs a check draws from its seed, never
inputs made from a student's answers, so a check that would ask about those (the accuracy of
parameters a student's code trained) takes its kit path instead. A test keeps every other module
of ``grader/`` free of solution imports.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["Alternatives", "Candidates", "LiveOracle", "Model", "Oracle"]

Candidates = list[tuple[str, dict[str, Any]]]
"""Known-mistake variants: ``[(message, {output name: expected array})]``."""
Alternatives = list[tuple[str, np.ndarray]]
"""Valid variants: ``[(advisory note, expected array)]``."""


class Model(Protocol):
    """A reference net: its parameters and its cs231n ``loss`` (scores without ``y``)."""

    params: dict[str, np.ndarray]

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any: ...


class Oracle(Protocol):
    """Where a check's expected values come from."""

    live: bool
    """True: answers any input (the reference itself); False: only the inputs checks draw from
    their seeds (a kit's tables): a check asks nothing about values a student's code made."""

    def call(self, name: str, *args: Any) -> Any:
        """The reference function ``name``'s result on ``args``.

        ``args`` are changed as the reference changes them (batchnorm writes its running
        statistics into ``bn_param``, an update rule its state into ``config``): pass copies.
        """
        ...

    def model(self, name: str, **kwargs: Any) -> Model:
        """The reference net ``name`` (``TwoLayerNet``, ``FullyConnectedNet``) with ``kwargs``."""
        ...

    def mistakes(self, name: str, *args: Any) -> Candidates:
        """The known mistakes of ``name`` (``grader.checks.mistakes``) on ``args``, or ``[]``."""
        ...

    def accepted(self, name: str, *args: Any) -> Alternatives:
        """The valid variants' outputs of ``name`` (``grader.checks.variants``) on ``args``:
        ``[(note, expected array)]``."""
        ...


class LiveOracle:
    """The oracle of the full grader: the trusted reference, computed on demand."""

    live = True

    def call(self, name: str, *args: Any) -> Any:
        from reference import layers, optim

        module = optim if hasattr(optim, name) else layers
        return getattr(module, name)(*args)

    def model(self, name: str, **kwargs: Any) -> Model:
        from reference import fc_net

        return getattr(fc_net, name)(**kwargs)  # type: ignore[no-any-return]

    def mistakes(self, name: str, *args: Any) -> Candidates:
        from grader.checks import mistakes

        variants = getattr(mistakes, name, None)
        return [] if variants is None else variants(*args)

    def accepted(self, name: str, *args: Any) -> Alternatives:
        """The valid variants' outputs of ``name`` (``grader.checks.variants``) on ``args``."""
        from grader.checks import variants

        return getattr(variants, name)(*args)  # type: ignore[no-any-return]
