"""Exposure control.

- :func:`eligible`: an item is eligible while its live exposure count stays below the target
  maximum rate times the number of sessions (a restricted-maximum-information eligibility rule,
  Revuelta & Ponsoda 1998, equivalent in purpose to Sympson-Hetter but needing no offline
  simulation: it reads live counts, so several replicas sharing a database stay correct). The
  first ``warmup`` sessions count as ``warmup`` so that a young bank is not starved.
- :func:`randomesque`: pick uniformly among the k best candidates (Kingsbury & Zara 1989).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

BoolArray = NDArray[np.bool_]


def eligible(counts: NDArray[np.int64], sessions: int, r_max: float, warmup: int = 100) -> BoolArray:
    """Items whose exposure count is below ``r_max * max(sessions, warmup)``."""
    if r_max >= 1.0:
        return np.ones(len(counts), dtype=bool)
    return np.asarray(counts < r_max * max(sessions, warmup))


def randomesque(scores: NDArray[np.float64], candidates: BoolArray, k: int, rng: np.random.Generator) -> int:
    """Index of one of the ``k`` highest-scoring candidates, chosen uniformly; -1 if none."""
    available = int(np.count_nonzero(candidates))
    if available == 0:
        return -1
    masked = np.where(candidates, scores, -np.inf)
    if k <= 1 or available == 1:
        return int(masked.argmax())
    k = min(k, available)
    top = np.argpartition(masked, len(masked) - k)[-k:]
    return int(top[int(rng.random() * k)])
