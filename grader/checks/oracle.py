"""The oracle: every expected value a check needs, and every known mistake's output, behind one
interface.

Checks never import the reference's solution modules (``reference.layers``, ``layer_utils``,
``optim``, ``fc_net``) themselves: they ask the ``Oracle`` of their context. The full grader backs
it with the live reference (``LiveOracle``); a student kit, which must not contain the
solutions, can back it with tables precomputed for the public checks' inputs. A test keeps every
other module of ``grader/`` free of solution imports.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["Candidates", "LiveOracle", "Model", "Oracle"]

Candidates = list[tuple[str, dict[str, Any]]]
"""Known-mistake variants: ``[(message, {output name: expected array})]``."""


class Model(Protocol):
    """A reference net: its parameters and its cs231n ``loss`` (scores without ``y``)."""

    params: dict[str, np.ndarray]

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any: ...


class Oracle(Protocol):
    """Where a check's expected values come from."""

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


class LiveOracle:
    """The oracle of the full grader: the trusted reference, computed on demand."""

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
