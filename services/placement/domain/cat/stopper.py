"""Stopping and classification into levels defined by cut scores.

Cut k (of K) separates level k from level k + 1. For each cut the stopper tests
H0: theta <= cut - delta against H1: theta >= cut + delta (Wald's SPRT, thresholds
A = log((1 - beta) / alpha), B = log(beta / (1 - alpha))). The generalized likelihood ratio
variant (Bartroff, Finkelman & Lai 2008) compares the best likelihood on each side of the
indifference region instead of the two boundary points. The level is decided once the cut below it
says "above" and the cut above it says "below".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from services.placement.domain.cat.model import Array

ABOVE, BELOW, UNDECIDED = 1, -1, 0


def level_of(theta: float | Array, cuts: tuple[float, ...]) -> NDArray[np.int64]:
    """Level index of each theta: the number of cuts at or below it."""
    return np.asarray(np.searchsorted(np.asarray(cuts), np.asarray(theta), side="right"), dtype=np.int64)


@dataclass(frozen=True)
class CutStopper:
    cuts: tuple[float, ...]
    delta: float = 0.3
    alpha: float = 0.05
    beta: float = 0.05
    rule: str = "sprt"  # or "glr"

    def __post_init__(self) -> None:
        if self.rule not in {"sprt", "glr"}:
            raise ValueError("rule must be 'sprt' or 'glr'")
        if not (0 < self.alpha < 0.5 and 0 < self.beta < 0.5):
            raise ValueError("alpha and beta must be in (0, 0.5)")
        if list(self.cuts) != sorted(self.cuts):
            raise ValueError("cuts must be increasing")

    @cached_property
    def upper(self) -> float:
        return float(np.log((1 - self.beta) / self.alpha))

    @cached_property
    def lower(self) -> float:
        return float(np.log(self.beta / (1 - self.alpha)))

    def points(self) -> Array:
        """The thetas the SPRT needs the likelihood at: (cut - delta, cut + delta) for each cut."""
        return np.array([[c - self.delta, c + self.delta] for c in self.cuts]).reshape(-1)

    def statistics(self, grid: Array, loglik_grid: Array, loglik_points: Array | None) -> Array:
        """Log likelihood ratio per cut (H1 over H0)."""
        if self.rule == "sprt":
            assert loglik_points is not None
            return np.asarray(loglik_points[1::2] - loglik_points[0::2])
        out = np.empty(len(self.cuts))
        for k, cut in enumerate(self.cuts):
            out[k] = loglik_grid[grid >= cut + self.delta].max() - loglik_grid[grid <= cut - self.delta].max()
        return out

    def decisions(self, stats: Array) -> list[int]:
        upper, lower = self.upper, self.lower
        return [ABOVE if s >= upper else BELOW if s <= lower else UNDECIDED for s in stats.tolist()]

    def decided_level(self, decisions: list[int]) -> int | None:
        """The level both neighbouring cuts agree on, or None while undecided."""
        k = len(self.cuts)
        for level in range(k + 1):
            below_ok = level == 0 or decisions[level - 1] == ABOVE
            above_ok = level == k or decisions[level] == BELOW
            if below_ok and above_ok:
                return level
        return None


@dataclass(frozen=True)
class PosteriorStopper:
    """Stop once the most probable level holds at least ``threshold`` of the posterior."""

    threshold: float = 0.9

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must be in (0, 1)")

    def decided_level(self, level_probs: Array) -> int | None:
        """The most probable level once its probability reaches the threshold, else None."""
        best = int(np.argmax(level_probs))
        return best if float(level_probs[best]) >= self.threshold else None
