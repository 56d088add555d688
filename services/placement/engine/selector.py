"""Item selection criteria: maximum Fisher information, with Kullback-Leibler information early
in the test (Chang & Ying 1996: KL over an interval around the estimate that narrows as items
accrue) and near the cut scores (Eggen 1999: KL between the two SPRT hypotheses of the nearest
cut, which is exactly the expected log-likelihood-ratio gain the stopper needs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.placement.engine.model import Array, fisher_information, kl_between, kl_interval


@dataclass(frozen=True)
class InfoSelector:
    """Scores every item; the caller masks and picks (exposure, content, randomesque)."""

    cuts: tuple[float, ...]
    delta: float
    kl_items: int = 3
    cut_window: float = 0.0
    kl_radius: float = 3.0

    def cut_tables(self, a: Array, b: Array, c: Array) -> Array:
        """Per-cut symmetric KL of every item between cut - delta and cut + delta: (cuts, items).
        Depends only on the bank, so it is computed once per bank version."""
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

    def scores(self, theta: float, n_scored: int, a: Array, b: Array, c: Array, cut_kl: Array | None) -> Array:
        kind = self.criterion(theta, n_scored)
        if kind == "kl-interval":
            radius = min(self.kl_radius / np.sqrt(max(n_scored, 1)), 3.0)
            return kl_interval(theta, radius, a, b, c)
        if kind == "kl-cut":
            table = cut_kl if cut_kl is not None else self.cut_tables(a, b, c)
            nearest = int(np.argmin([abs(theta - cut) for cut in self.cuts]))
            return np.asarray(table[nearest])
        return fisher_information(theta, a, b, c)
