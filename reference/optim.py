"""First-order update rules of the CS231n family (variants.md §1.3).

Every rule has the starters' interface ``update(w, dw, config=None) -> (next_w, config)``:

* ``w`` and ``dw`` are arrays of one shape (a parameter and its gradient);
* ``config`` holds the hyperparameters and the rule's state. Missing hyperparameters and state are
  filled in with ``config.setdefault`` (the starters' defaults), and the new state is written back
  into the same dict, which is also returned. The Solver keeps one such dict per parameter.

State lives under the canonical keys ``velocity`` (momentum, Nesterov), ``cache`` (RMSProp) and
``m``, ``v``, ``t`` (Adam). Courses that rename them (UCLA: ``a`` for RMSProp's cache, ``v``/``a``
for Adam's moments) are mapped by the grader's specs, never here.

The rules never modify ``w``, ``dw`` or a state array in place (the starters allow in-place updates
of ``w``; the values are the same either way); they store fresh arrays in ``config``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["adam", "rmsprop", "sgd", "sgd_momentum", "sgd_nesterov_momentum"]

Array = NDArray[np.floating[Any]]
Config = dict[str, Any]


def sgd(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """Vanilla stochastic gradient descent.

    Parameters
    ----------
    w : ndarray, shape (*S)
        Current parameter.
    dw : ndarray, shape (*S)
        Gradient of the loss with respect to ``w``.
    config : dict, optional
        ``learning_rate`` (default 1e-2). Filled in and returned.

    Returns
    -------
    next_w : ndarray, shape (*S)
    config : dict

    Notes
    -----
    .. math:: w \\leftarrow w - \\alpha\\, dw
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """SGD with (CS231n-style) momentum.

    Parameters
    ----------
    w : ndarray, shape (*S)
        Current parameter.
    dw : ndarray, shape (*S)
        Gradient of the loss with respect to ``w``.
    config : dict, optional
        ``learning_rate`` (default 1e-2), ``momentum`` (default 0.9), state ``velocity``
        (ndarray, shape (*S); zeros when absent). Filled in, updated and returned.

    Returns
    -------
    next_w : ndarray, shape (*S)
    config : dict
        With ``config['velocity']`` the new velocity.

    Notes
    -----
    .. math::
        v \\leftarrow \\mu v - \\alpha\\, dw, \\qquad w \\leftarrow w + v

    (CS182's pre-implemented ``v <- mu v + dw; w <- w - alpha v`` is a different rule and fails the
    CS231n fixture.)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def sgd_nesterov_momentum(
    w: Array, dw: Array, config: Config | None = None
) -> tuple[Array, Config]:
    """SGD with Nesterov momentum, in the UCLA form (239AS / C147).

    Parameters
    ----------
    w : ndarray, shape (*S)
        Current parameter.
    dw : ndarray, shape (*S)
        Gradient of the loss with respect to ``w``.
    config : dict, optional
        ``learning_rate`` (default 1e-2), ``momentum`` (default 0.9), state ``velocity``
        (ndarray, shape (*S); zeros when absent). Filled in, updated and returned.

    Returns
    -------
    next_w : ndarray, shape (*S)
    config : dict
        With ``config['velocity']`` the new velocity :math:`v'`.

    Notes
    -----
    .. math::
        v' = \\mu v - \\alpha\\, dw, \\qquad w \\leftarrow w + v' + \\mu (v' - v)
        = w - \\mu v + (1 + \\mu) v'
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v_next = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v_next
    return w + v_next + config["momentum"] * (v_next - v), config


def rmsprop(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """RMSProp: per-coordinate step sizes from a moving average of squared gradients.

    Parameters
    ----------
    w : ndarray, shape (*S)
        Current parameter.
    dw : ndarray, shape (*S)
        Gradient of the loss with respect to ``w``.
    config : dict, optional
        ``learning_rate`` (default 1e-2), ``decay_rate`` (default 0.99), ``epsilon``
        (default 1e-8), state ``cache`` (ndarray, shape (*S); zeros when absent). Filled in,
        updated and returned.

    Returns
    -------
    next_w : ndarray, shape (*S)
    config : dict
        With ``config['cache']`` the new second-moment average.

    Notes
    -----
    .. math::
        s \\leftarrow \\rho s + (1 - \\rho)\\, dw^2, \\qquad
        w \\leftarrow w - \\alpha\\, dw / (\\sqrt{s} + \\epsilon)

    :math:`\\epsilon` sits outside the root (the starters' form; the fixture's next_w error is
    9.5247e-08 this way, 9.5026e-08 with it inside).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    rho = config["decay_rate"]
    cache = rho * config["cache"] + (1 - rho) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w: Array, dw: Array, config: Config | None = None) -> tuple[Array, Config]:
    """Adam with bias correction.

    Parameters
    ----------
    w : ndarray, shape (*S)
        Current parameter.
    dw : ndarray, shape (*S)
        Gradient of the loss with respect to ``w``.
    config : dict, optional
        ``learning_rate`` (default 1e-3), ``beta1`` (default 0.9), ``beta2`` (default 0.999),
        ``epsilon`` (default 1e-8); state ``m`` and ``v`` (ndarray, shape (*S); zeros when
        absent) and the step count ``t`` (default 0). Filled in, updated and returned.

    Returns
    -------
    next_w : ndarray, shape (*S)
    config : dict
        With the new moments ``m``, ``v`` and the incremented ``t``.

    Notes
    -----
    ``t`` is incremented *before* it is used (the notebooks' fixture, given ``t = 5``, needs
    ``t = 6`` in the correction):

    .. math::
        t \\leftarrow t + 1, \\quad
        m \\leftarrow \\beta_1 m + (1 - \\beta_1)\\, dw, \\quad
        v \\leftarrow \\beta_2 v + (1 - \\beta_2)\\, dw^2, \\\\
        \\hat m = m / (1 - \\beta_1^t), \\quad \\hat v = v / (1 - \\beta_2^t), \\quad
        w \\leftarrow w - \\alpha\\, \\hat m / (\\sqrt{\\hat v} + \\epsilon)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    config["t"], config["m"], config["v"] = t, m, v
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config
