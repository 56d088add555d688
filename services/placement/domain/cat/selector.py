"""Item selection criteria: maximum Fisher information, with Kullback-Leibler information early
in the test (Chang & Ying 1996: KL over an interval around the estimate that narrows as items
accrue) and near the cut scores (Eggen 1999: KL between the two SPRT hypotheses of the nearest
cut, which is exactly the expected log-likelihood-ratio gain the stopper needs).

A published bank version never changes, so everything that depends only on the bank is tabulated
once on the estimator's grid (:class:`Tables`): information and probability per grid point (read
with linear interpolation at the estimate) and cumulative log-probabilities (so the KL interval
index is two column reads). That keeps one selection at a few vector operations over the bank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.placement.domain.cat.model import Array, fisher_information, kl_between, kl_interval, prob_grid


@dataclass(frozen=True)
class Tables:
    """Per-bank tables on a grid; rows are grid points, columns items (contiguous per point)."""

    grid: Array
    info: Array  # (points, items) Fisher information
    p: Array  # (points, items) P(correct)
    cum_log_p: Array  # (points + 1, items) cumulative sums of log P over grid points
    cum_log_q: Array  # (points + 1, items) cumulative sums of log(1 - P)
    neg_entropy: Array  # (points, items) P log P + (1 - P) log(1 - P)
    cut_kl: Array  # (cuts, items)
    best_info: Array  # (points, k + 1): sum of the k largest informations at each point (operational items)

    @classmethod
    def build(
        cls, grid: Array, a: Array, b: Array, c: Array, cut_kl: Array, operational: Array | None = None
    ) -> Tables:
        p = prob_grid(grid, a, b, c).T.copy()
        info = np.stack([fisher_information(float(t), a, b, c) for t in grid])
        usable = info if operational is None else info[:, np.asarray(operational, dtype=bool)]
        best = -np.sort(-usable, axis=1)[:, :200]
        zero = np.zeros((1, len(a)))
        log_p, log_q = np.log(p), np.log1p(-p)
        return cls(
            grid=grid,
            info=info,
            p=p,
            cum_log_p=np.vstack([zero, np.cumsum(log_p, axis=0)]),
            cum_log_q=np.vstack([zero, np.cumsum(log_q, axis=0)]),
            neg_entropy=p * log_p + (1.0 - p) * log_q,
            cut_kl=cut_kl,
            best_info=np.hstack([np.zeros((len(grid), 1)), np.cumsum(best, axis=1)]),
        )

    @property
    def _grid(self) -> tuple[float, float, int]:
        grid = self.grid
        return float(grid[0]), float(grid[1] - grid[0]), len(grid) - 1

    def at(self, table: Array, theta: float) -> Array:
        """Row of ``table`` linearly interpolated at ``theta`` (clamped to the grid)."""
        start, step, last = self._grid
        x = min(max((theta - start) / step, 0.0), last - 1e-6)
        k = int(x)
        w = x - k
        return np.asarray(table[k] * (1.0 - w) + table[k + 1] * w)

    def next_best_info(self, theta: float, given: int, more: int) -> float:
        """Information at ``theta`` of the ``more`` best items after the ``given`` best ones (what the
        rest of a test can still gather, the best items being used first)."""
        start, step, last_point = self._grid
        x = min(max((theta - start) / step, 0.0), last_point - 1e-6)
        k = int(x)
        w = x - k
        last = self.best_info.shape[1] - 1
        j, i = min(given + more, last), min(given, last)
        t = self.best_info  # the two entries of the interpolated row that are needed, as :meth:`at` would
        return float((t[k, j] * (1.0 - w) + t[k + 1, j] * w) - (t[k, i] * (1.0 - w) + t[k + 1, i] * w))

    def kl_interval(self, theta: float, radius: float) -> Array:
        """Chang & Ying's KL index over the grid points within ``radius`` of ``theta``."""
        start, step, last = self._grid
        lo = min(max(math.ceil((theta - radius - start) / step), 0), last)
        hi = min(max(math.floor((theta + radius - start) / step), lo), last) + 1
        # KL(p0 || p_t) averaged over t = p0 log p0 + q0 log q0 - p0 mean(log p_t) - q0 mean(log q_t)
        p0 = self.at(self.p, theta)
        width = 1.0 / (hi - lo)
        mean_log_p = self.cum_log_p[hi] - self.cum_log_p[lo]
        mean_log_q = self.cum_log_q[hi] - self.cum_log_q[lo]
        kl = self.at(self.neg_entropy, theta) - width * (p0 * (mean_log_p - mean_log_q) + mean_log_q)
        kl *= 2.0 * radius
        return kl


@dataclass(frozen=True)
class InfoSelector:
    """Scores every item; the caller masks and picks (exposure, content, randomesque)."""

    cuts: tuple[float, ...]
    delta: float
    kl_items: int = 3
    cut_window: float = 0.0
    kl_radius: float = 3.0

    def cut_tables(self, a: Array, b: Array, c: Array) -> Array:
        """Per-cut symmetric KL of every item between cut - delta and cut + delta: (cuts, items)."""
        rows = []
        for cut in self.cuts:
            hi, lo = cut + self.delta, cut - self.delta
            rows.append(0.5 * (kl_between(hi, lo, a, b, c) + kl_between(lo, hi, a, b, c)))
        return np.array(rows) if rows else np.zeros((0, len(a)))

    def criterion(self, theta: float, n_scored: int) -> str:
        if n_scored < self.kl_items:
            return "kl-interval"
        if self.cut_window > 0 and self.cuts and min(abs(theta - c) for c in self.cuts) < self.cut_window:
            return "kl-cut"
        return "fisher"

    def select(self, theta: float, n_scored: int, tables: Tables) -> tuple[str, Array]:
        """(criterion, scores of every item) from the bank's tables: the engine's path (a fresh
        array the caller may mask in place)."""
        kind = self.criterion(theta, n_scored)
        if kind == "kl-interval":
            return kind, tables.kl_interval(theta, self.radius(n_scored))
        if kind == "kl-cut":
            nearest = min(range(len(self.cuts)), key=lambda k: abs(theta - self.cuts[k]))
            return kind, tables.cut_kl[nearest].copy()
        return kind, tables.at(tables.info, theta)

    def radius(self, n_scored: int) -> float:
        return float(min(self.kl_radius / np.sqrt(max(n_scored, 1)), 3.0))

    def scores(self, theta: float, n_scored: int, tables: Tables) -> Array:
        """Scores from the bank's tables."""
        return self.select(theta, n_scored, tables)[1]

    def exact_scores(self, theta: float, n_scored: int, a: Array, b: Array, c: Array) -> Array:
        """The same criteria computed exactly at ``theta`` (reference for the tabulated path)."""
        kind = self.criterion(theta, n_scored)
        if kind == "kl-interval":
            return kl_interval(theta, self.radius(n_scored), a, b, c)
        if kind == "kl-cut":
            nearest = min(range(len(self.cuts)), key=lambda k: abs(theta - self.cuts[k]))
            return np.asarray(self.cut_tables(a, b, c)[nearest])
        return fisher_information(theta, a, b, c)
