"""Item selection criteria: maximum Fisher information, with Kullback-Leibler information early
in the test (Chang & Ying 1996: KL over an interval around the estimate that narrows as items
accrue) and near the cut scores (Eggen 1999: KL between the two SPRT hypotheses of the nearest
cut, which is exactly the expected log-likelihood-ratio gain the stopper needs).

A published bank version never changes, so every criterion is tabulated once (:class:`ScoreTable`):
its score of every item on each grid node (Fisher information; the KL index for each early
radius) or at each cut (cut KL), and on each row the operational items of every content area
ranked best first. A score between two nodes is the linear interpolation of the two rows, and the
best eligible item under it is found by walking the two rankings together (Fagin's threshold
algorithm: stop once the best item seen scores at least the interpolation of the two scores at the
walk's depth, which bounds every item not seen yet). The walk is plain Python over a few entries:
with cold caches, as in a server between requests, every numpy call costs microseconds of fetching
code again, so the selection makes none.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from services.placement.domain.cat.model import Array, fisher_information, kl_between, kl_interval


@dataclass(frozen=True)
class ScoreTable:
    """Scores of every item on the rows of a table (grid nodes or cuts), and each row's ranking."""

    values: Array  # (rows, items)
    rows: list[array]  # the same as Python-readable rows
    ranked: list[list[array]]  # [row][domain]: operational items of the domain, best first (ties: lower index)
    ranked_all: list[array]  # [row]: every operational item, best first
    domain_of: list[int]  # every item's content area

    @classmethod
    def build(
        cls, values: Array, domain: NDArray[np.int64], operational: NDArray[np.bool_], domains: int
    ) -> ScoreTable:
        values = np.ascontiguousarray(values, dtype=np.float64)
        order = np.argsort(-values, axis=1, kind="stable")
        ranked, ranked_all = [], []
        for row in order:
            row = row[operational[row]]
            ranked_all.append(array("i", row.tolist()))
            of = domain[row]
            ranked.append([array("i", row[of == d].tolist()) for d in range(domains)])
        return cls(values, [array("d", r.tolist()) for r in values], ranked, ranked_all, domain.tolist())

    def at(self, row: int, weight: float) -> Array:
        """Every item's score between row ``row`` and the next, ``weight`` of the way (numpy)."""
        if weight == 0.0:
            return np.array(self.values[row])
        return np.asarray(self.values[row] * (1.0 - weight) + self.values[row + 1] * weight)


def best_items(
    table: ScoreTable,
    row: int,
    weight: float,
    group: Sequence[int],
    taken: set[int],
    count_of: Callable[[int], int] | None = None,
    limit: float = 0.0,
    k: int = 1,
) -> list[int]:
    """The ``k`` best items of the content areas ``group`` under the scores ``weight`` of the way
    from row ``row`` to the next (best first, ties to the lower index; fewer if fewer exist),
    skipping the items ``taken`` and, with ``count_of``, those whose exposure count is not below
    ``limit``.

    The threshold algorithm over the two rows' rankings: after depth d every item not seen yet
    scores at most ``(1 - weight) * (row's d-th score) + weight * (next row's d-th score)``."""
    if len(group) == 1:
        first = table.ranked[row][group[0]]
        second = table.ranked[row + 1][group[0]] if weight else first
        keep = None
    else:
        first = table.ranked_all[row]
        second = table.ranked_all[row + 1] if weight else first
        keep = set(group)
    lower = table.rows[row]
    upper = table.rows[row + 1] if weight else lower
    stay = 1.0 - weight
    domain_of = table.domain_of
    if k == 1:  # the usual case, without the heap: the best (score, -index) so far
        top, chosen = 0.0, -1
        for depth in range(len(first)):
            i, j = first[depth], second[depth]
            if chosen >= 0 and top > lower[i] * stay + upper[j] * weight:
                break  # nothing unseen can beat (or tie) the best
            for x in (i, j) if i != j else (i,):
                if x in taken or (keep is not None and domain_of[x] not in keep):
                    continue
                if count_of is not None and not count_of(x) < limit:
                    continue
                score = lower[x] * stay + upper[x] * weight
                if chosen < 0 or score > top or (score == top and x < chosen):
                    top, chosen = score, x
        return [chosen] if chosen >= 0 else []
    found: list[tuple[float, int]] = []  # a min-heap of (score, -index): the best k so far
    seen: set[int] = set()
    for depth in range(len(first)):
        i, j = first[depth], second[depth]
        if len(found) == k and found[0][0] > lower[i] * stay + upper[j] * weight:
            break  # nothing unseen can beat (or tie) the k-th best
        for x in (i, j) if i != j else (i,):
            if x in seen:
                continue
            seen.add(x)
            if x in taken or (keep is not None and domain_of[x] not in keep):
                continue
            if count_of is not None and not count_of(x) < limit:
                continue
            entry = (lower[x] * stay + upper[x] * weight, -x)
            if len(found) < k:
                heapq.heappush(found, entry)
            elif entry > found[0]:
                heapq.heapreplace(found, entry)
    return [-x for _, x in sorted(found, reverse=True)]


@dataclass(frozen=True)
class Tables:
    """Everything selection needs of one bank version, computed once."""

    start: float  # the grid
    step: float
    last: int  # index of the last grid node
    fisher: ScoreTable  # on the grid
    kl: tuple[ScoreTable, ...]  # KL index on the grid, one per early item (n = 0 .. kl_items - 1)
    cut_kl: ScoreTable  # one row per cut
    best_info: list[array]  # per grid node: 0, then the sum of the k largest informations (operational items)

    @classmethod
    def build(
        cls,
        grid: Array,
        a: Array,
        b: Array,
        c: Array,
        selector: InfoSelector,
        domain: NDArray[np.int64],
        domains: int,
        operational: NDArray[np.bool_] | None = None,
    ) -> Tables:
        ops = np.ones(len(a), dtype=bool) if operational is None else np.asarray(operational, dtype=bool)
        dom = np.asarray(domain, dtype=np.int64)
        info = np.stack([fisher_information(float(t), a, b, c) for t in grid])
        best = -np.sort(-info[:, ops], axis=1)[:, :200]
        cumulative = np.hstack([np.zeros((len(grid), 1)), np.cumsum(best, axis=1)])
        radii = [selector.radius(n) for n in range(selector.kl_items)]
        kl = {r: np.stack([kl_interval(float(t), r, a, b, c) for t in grid]) for r in set(radii)}
        cut_kl = selector.cut_tables(a, b, c)
        if not len(cut_kl):  # no cut: one row of zeros keeps the shapes uniform
            cut_kl = np.zeros((1, len(a)))

        def table(values: Array) -> ScoreTable:
            return ScoreTable.build(values, dom, ops, domains)

        kl_tables = {r: table(v) for r, v in kl.items()}
        return cls(
            start=float(grid[0]),
            step=float(grid[1] - grid[0]),
            last=len(grid) - 1,
            fisher=table(info),
            kl=tuple(kl_tables[r] for r in radii),
            cut_kl=table(cut_kl),
            best_info=[array("d", row.tolist()) for row in cumulative],
        )

    def position(self, theta: float) -> tuple[int, float]:
        """The grid node at or below ``theta`` and how far towards the next (clamped to the grid)."""
        x = min(max((theta - self.start) / self.step, 0.0), self.last - 1e-6)
        k = int(x)
        return k, x - k

    def next_best_info(self, theta: float, given: int, more: int) -> float:
        """Information at ``theta`` of the ``more`` best items after the ``given`` best ones (what the
        rest of a test can still gather, the best items being used first)."""
        x = (theta - self.start) / self.step  # clamped to the grid (conditionals: no builtin min/max)
        x = x if x > 0.0 else 0.0
        x = x if x < self.last - 1e-6 else self.last - 1e-6
        k = int(x)
        w = x - k
        lower, upper = self.best_info[k], self.best_info[k + 1]
        last = len(lower) - 1
        j = given + more if given + more < last else last
        i = given if given < last else last
        return (lower[j] * (1.0 - w) + upper[j] * w) - (lower[i] * (1.0 - w) + upper[i] * w)


@dataclass(frozen=True)
class InfoSelector:
    """Chooses the criterion and where to read it; the engine walks the table (exposure, content,
    randomesque)."""

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

    def locate(self, theta: float, n_scored: int, tables: Tables) -> tuple[str, ScoreTable, int, float]:
        """(criterion, its table, row, weight towards the next row) at ``theta`` after ``n_scored``
        (the criterion as :meth:`criterion` names it; the cut is the nearest, the first on ties)."""
        if n_scored >= self.kl_items and self.cut_window > 0:
            nearest, distance = -1, self.cut_window
            for k, cut in enumerate(self.cuts):
                if abs(theta - cut) < distance:
                    nearest, distance = k, abs(theta - cut)
            if nearest >= 0:
                return "kl-cut", tables.cut_kl, nearest, 0.0
        x = (theta - tables.start) / tables.step  # clamped to the grid (conditionals: no builtin min/max)
        x = x if x > 0.0 else 0.0
        x = x if x < tables.last - 1e-6 else tables.last - 1e-6
        row = int(x)
        if n_scored < self.kl_items:
            return "kl-interval", tables.kl[n_scored], row, x - row
        return "fisher", tables.fisher, row, x - row

    def radius(self, n_scored: int) -> float:
        return min(self.kl_radius / math.sqrt(max(n_scored, 1)), 3.0)

    def scores(self, theta: float, n_scored: int, tables: Tables) -> Array:
        """Every item's score from the bank's tables (a fresh array)."""
        _, table, row, weight = self.locate(theta, n_scored, tables)
        return table.at(row, weight)

    def exact_scores(self, theta: float, n_scored: int, a: Array, b: Array, c: Array) -> Array:
        """The same criteria computed exactly at ``theta`` (reference for the tabulated path)."""
        kind = self.criterion(theta, n_scored)
        if kind == "kl-interval":
            return kl_interval(theta, self.radius(n_scored), a, b, c)
        if kind == "kl-cut":
            nearest = min(range(len(self.cuts)), key=lambda k: abs(theta - self.cuts[k]))
            return np.asarray(self.cut_tables(a, b, c)[nearest])
        return fisher_information(theta, a, b, c)
