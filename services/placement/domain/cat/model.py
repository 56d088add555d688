"""Item response models: 3PL (2PL when c = 0) on the logistic metric (no 1.7 scaling).

Every function is vectorised: ``theta`` may be a scalar or a grid, the parameters arrays over
items; shapes broadcast the numpy way (items along the last axis unless stated).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
_EPS = 1e-9


def prob(theta: float | Array, a: Array, b: Array, c: Array) -> Array:
    """P(correct | theta) for each item, clipped away from 0 and 1 so logs stay finite."""
    z = np.multiply(a, np.subtract(theta, b))
    # the logistic via tanh never overflows; then keep p away from 0 and 1 so logs stay finite
    p = np.tanh(np.multiply(z, 0.5))
    p += 1.0
    p *= np.multiply(0.5, np.subtract(1.0, c))
    p += c
    np.maximum(p, _EPS, out=p)
    np.minimum(p, 1.0 - _EPS, out=p)
    return p


def prob_grid(grid: Array, a: Array, b: Array, c: Array) -> Array:
    """P for every (item, grid point): shape (items, points)."""
    return prob(grid[None, :], a[:, None], b[:, None], c[:, None])


def fisher_information(theta: float, a: Array, b: Array, c: Array) -> Array:
    """Fisher information of each item at ``theta`` (3PL formula; reduces to a^2 P Q for 2PL)."""
    p = prob(theta, a, b, c)
    return a * a * ((p - c) ** 2) * (1.0 - p) / (((1.0 - c) ** 2) * p)


def kl_divergence(p_true: Array, p_other: Array) -> Array:
    """KL(Bernoulli(p_true) || Bernoulli(p_other)), elementwise."""
    return p_true * np.log(p_true / p_other) + (1.0 - p_true) * np.log((1.0 - p_true) / (1.0 - p_other))


def kl_between(theta_1: float, theta_0: float, a: Array, b: Array, c: Array) -> Array:
    """Expected log-likelihood-ratio gain of each item for H1: theta_1 against H0: theta_0."""
    return kl_divergence(prob(theta_1, a, b, c), prob(theta_0, a, b, c))


def kl_interval(theta: float, radius: float, a: Array, b: Array, c: Array, points: int = 7) -> Array:
    """Chang & Ying's KL index: KL(theta || t) integrated over t in [theta - r, theta + r]."""
    ts = np.linspace(theta - radius, theta + radius, points)
    p0 = prob(theta, a, b, c)[:, None]
    pt = prob(ts[None, :], a[:, None], b[:, None], c[:, None])
    return np.asarray(kl_divergence(p0, pt).mean(axis=1) * (2.0 * radius), dtype=np.float64)
