"""Acceptance bounds of the statistical dropout checks, each with a proven false-failure rate.

A correct dropout layer keeps each unit independently with probability ``q`` (the keep
probability). Every bound below is a tail inequality (Chernoff or Bernstein), not a normal
approximation: such a layer falls outside it with probability at most ``ALPHA`` (both tails
together), whatever the shape of the mask. The grading process draws nothing here; the checks
apply the bounds to masks the student's code returned.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["ALPHA", "dispersion_interval", "mean_bound", "rate_interval"]

ALPHA = 5e-11
"""False-failure probability of one statistical check on a correct layer (both tails). A check
kind runs at most 16 of them, so a correct layer fails any of them with probability < 1e-9."""


def _kl(a: float, q: float) -> float:
    """Kullback-Leibler divergence of Bernoulli(a) from Bernoulli(q)."""
    out = 0.0
    if a > 0:
        out += a * math.log(a / q)
    if a < 1:
        out += (1 - a) * math.log((1 - a) / (1 - q))
    return out


@functools.lru_cache(maxsize=256)
def rate_interval(n: int, q: float, alpha: float = ALPHA) -> tuple[float, float]:
    """``[lo, hi]`` holding the fraction of successes of ``n`` Bernoulli(q) draws but with
    probability at most ``alpha``.

    Chernoff: ``P(rate >= q + t) <= exp(-n KL(q + t || q))``, and the same below; each tail gets
    ``alpha / 2``.
    """
    target = math.log(2 / alpha) / n

    def edge(end: float) -> float:
        if _kl(end, q) <= target:  # even the extreme rate is not unlikely enough: no bound
            return end
        near, far = q, end
        for _ in range(100):
            mid = (near + far) / 2
            near, far = (mid, far) if _kl(mid, q) <= target else (near, mid)
        return far

    return edge(0.0), edge(1.0)


def mean_bound(x: np.ndarray, q: float, alpha: float = ALPHA) -> float:
    """``b`` with ``P(|mean(x * m / q) - mean(x)| > b) <= alpha`` for ``m`` Bernoulli(q) (x:
    any shape).

    Bernstein: the terms ``x_i (m_i / q - 1)`` are independent, centred, of variance
    ``x_i^2 (1 - q) / q`` and bounded by ``max|x| * max(1 / q - 1, 1)``.
    """
    x = np.asarray(x, dtype=np.float64)
    log_term = math.log(2 / alpha)
    variance = float(np.sum(x * x)) * (1 - q) / q
    reach = float(np.max(np.abs(x))) * max(1 / q - 1, 1.0)
    s = reach * log_term / 3 + math.sqrt((reach * log_term / 3) ** 2 + 2 * variance * log_term)
    return s / x.size


@functools.lru_cache(maxsize=64)
def dispersion_interval(
    groups: int, size: int, q: float, alpha: float = ALPHA
) -> tuple[float, float]:
    """``[lo, hi]`` holding the dispersion index of ``groups`` counts of ``size`` Bernoulli(q)
    draws each but with probability at most ``alpha``.

    The index is ``mean_i (S_i - size q)^2 / (size q (1 - q))``, about 1 for independent draws:
    masks whose units are correlated within a group (whole rows dropped, blocks) raise it, masks
    more regular than chance (each row keeping the same number, periodic patterns) lower it.
    Each tail gets ``alpha / 2`` by a Chernoff bound with the exact moment generating function of
    ``Y = (S - size q)^2 / (size q (1 - q))``, ``S ~ Binomial(size, q)``: ``P(mean Y >= a) <=
    min_l E[exp(l Y)]^groups exp(-l groups a)``, and likewise below with ``-l``. Any ``l``
    gives a valid bound; the minimum is taken over a grid.
    """
    k = np.arange(size + 1)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, size + 1)))))
    log_pmf = (
        log_fact[size]
        - log_fact[k]
        - log_fact[size - k]
        + k * math.log(q)
        + (size - k) * math.log1p(-q)
    )
    y = (k - size * q) ** 2 / (size * q * (1 - q))
    target = math.log(alpha / 2)

    def log_mgf(lams: np.ndarray) -> np.ndarray:
        z = log_pmf[None, :] + lams[:, None] * y[None, :]
        top = z.max(axis=1)
        return np.asarray(top + np.log(np.exp(z - top[:, None]).sum(axis=1)))

    up = np.geomspace(1e-6, 4.0, 400)
    up_log = groups * log_mgf(up)
    down = np.geomspace(1e-6, 1e4, 400)
    down_log = groups * log_mgf(-down)

    def beyond_hi(a: float) -> bool:
        return bool((up_log - up * groups * a).min() <= target)

    def beyond_lo(b: float) -> bool:
        return bool((down_log + down * groups * b).min() <= target)

    hi_near, hi_far = 1.0, float(y.max())
    if not beyond_hi(hi_far):
        hi = math.inf
    else:
        for _ in range(100):
            mid = (hi_near + hi_far) / 2
            hi_near, hi_far = (hi_near, mid) if beyond_hi(mid) else (mid, hi_far)
        hi = hi_far
    lo_near, lo_far = 1.0, 0.0
    if not beyond_lo(lo_far):
        lo = 0.0
    else:
        for _ in range(100):
            mid = (lo_near + lo_far) / 2
            lo_near, lo_far = (lo_near, mid) if beyond_lo(mid) else (mid, lo_far)
        lo = lo_far
    return lo, hi
