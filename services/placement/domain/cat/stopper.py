"""Stopping and classification into levels defined by cut scores.

Every stopping rule is a :class:`Stopper`: ``decide(ctx)`` returns the level to stop at, or None
to go on; the engine's ``step`` calls whichever the configuration names (``STOPPERS``), so a new
rule is a class here and a name in that table, never a branch in ``step``.

Cut k (of K) separates level k from level k + 1. For each cut the stopper tests
H0: theta <= cut - delta against H1: theta >= cut + delta (Wald's SPRT, thresholds
A = log((1 - beta) / alpha), B = log(beta / (1 - alpha))). The generalized likelihood ratio
variant (Bartroff, Finkelman & Lai 2008) compares the best likelihood on each side of the
indifference region instead of the two boundary points. The level is decided once the cut below it
says "above" and the cut above it says "below".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from services.placement.domain.cat.model import Array

ABOVE, BELOW, UNDECIDED = 1, -1, 0


def level_of(theta: float | Array, cuts: tuple[float, ...]) -> NDArray[np.int64]:
    """Level index of each theta: the number of cuts at or below it."""
    return np.asarray(np.searchsorted(np.asarray(cuts), np.asarray(theta), side="right"), dtype=np.int64)


def level_weights(grid: Array, cuts: tuple[float, ...]) -> Array:
    """(grid points, levels): posterior weights @ this = the probability of each level.

    Each level's probability is the integral of the posterior density over the level, from its
    values on the grid, exactly as :func:`interval_mass` integrates (it is linear in the weights,
    so column k holds the mass it gives level k for a unit weight at each node): the trapezoid
    rule (a node lying on a cut counts half to each side, so a posterior centred on a cut gives
    50/50) with the Euler-Maclaurin end correction ``-h^2/12 (f'(upper cut) - f'(lower cut))``,
    the derivative at the cut from its four neighbouring nodes. The trapezoid alone underestimates
    the level holding most of the posterior: by 0.5 points at a posterior SD of 0.3 and 1.4 at
    0.15 (0.005 and 0.17 corrected), which biased E[acc] low. A cut between two nodes is
    integrated the same way, the density linear between them (giving such a cut only the nodes on
    its side was off by up to 0.13)."""
    start, step = float(grid[0]), float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
    bounds = [-math.inf, *cuts, math.inf]
    weights = np.zeros((len(grid), len(cuts) + 1))
    unit = [0.0] * len(grid)
    for j in range(len(grid)):
        unit[j] = 1.0
        for k in range(len(cuts) + 1):
            weights[j, k] = interval_mass(unit, start, step, bounds[k], bounds[k + 1])
        unit[j] = 0.0
    return weights


class Evidence(Protocol):
    """Where a stopping context's lazy parts come from (the engine's plan: its tables and rows)."""

    def loglik(self, rows: list[int]) -> Array: ...

    def point_loglik(self, rows: list[int]) -> Array: ...

    def next_best_info(self, theta: float, given: int, more: int) -> float: ...


class StopContext(NamedTuple):
    """What a stopping rule may look at after ``n`` scored items (lazy parts are computed only
    by the rules that need them, from ``evidence`` and the answers' likelihood ``rows``: methods
    rather than callables made per step). A named tuple, so the step builds it in C
    (``tuple.__new__``) without running a Python ``__init__``."""

    n: int
    max_items: int
    theta: float
    se: float
    posterior: Array  # weights on the estimator grid, summing to ``mass``
    level_probs: list[float]
    grid: Array
    grid_list: list[float]  # the same grid as Python floats
    evidence: Evidence
    rows: list[int]  # the scored answers' likelihood rows
    mass: float = 1.0

    def loglik(self) -> Array:
        """The log likelihood on the grid."""
        return self.evidence.loglik(self.rows)

    def point_loglik(self) -> Array:
        """The log likelihood at the cut +/- delta points (cut order, low then high)."""
        return self.evidence.point_loglik(self.rows)

    def remaining_info(self, more: int) -> float:
        """Fisher information at theta of the best ``more`` items still to come."""
        return self.evidence.next_best_info(self.theta, self.n, more)


def most_probable(level_probs: Sequence[float]) -> int:
    """Index of the largest probability (the first on ties, like numpy's argmax)."""
    return list(level_probs).index(max(level_probs))


class Stopper(Protocol):
    """A stopping rule: the level to stop at, or None to give another item."""

    @property
    def name(self) -> str: ...

    def decide(self, ctx: StopContext) -> int | None: ...


@dataclass(frozen=True)
class CutStopper:
    cuts: tuple[float, ...]
    delta: float = 0.3
    alpha: float = 0.05
    beta: float = 0.05
    rule: str = "sprt"  # or "glr"

    @property
    def name(self) -> str:
        return self.rule

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
        """Log likelihood ratio per cut (H1 over H0). The GLR takes the best likelihood over
        theta >= cut + delta against theta <= cut - delta: the grid points beyond each boundary
        and the boundary itself (without the boundary the search began at the first grid node
        past it, 0.375 from the cut instead of 0.3)."""
        assert loglik_points is not None
        if self.rule == "sprt":
            return np.asarray(loglik_points[1::2] - loglik_points[0::2])
        out = np.empty(len(self.cuts))
        for k, cut in enumerate(self.cuts):
            above = loglik_grid[grid >= cut + self.delta]
            below = loglik_grid[grid <= cut - self.delta]
            best_above = max(float(above.max()) if len(above) else -np.inf, float(loglik_points[2 * k + 1]))
            best_below = max(float(below.max()) if len(below) else -np.inf, float(loglik_points[2 * k]))
            out[k] = best_above - best_below
        return out

    def decide(self, ctx: StopContext) -> int | None:
        loglik = ctx.loglik() if self.rule == "glr" else ctx.grid
        return self.decided_level(self.decisions(self.statistics(ctx.grid, loglik, ctx.point_loglik())))

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
    name: str = "bayes"

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must be in (0, 1)")

    def decide(self, ctx: StopContext) -> int | None:
        return self.decided_level(ctx.level_probs)

    def decided_level(self, level_probs: Sequence[float]) -> int | None:
        """The most probable level once its probability reaches the threshold, else None."""
        best = most_probable(level_probs)
        return best if float(level_probs[best]) >= self.threshold else None


@dataclass(frozen=True)
class CurtailmentStopper:
    """Stochastic curtailment: stop once the predicted chance that the remaining items (up to the
    maximum length) would change the most probable level is below ``gamma``; classify by the most
    probable level.

    The prediction: with ``m`` items left whose Fisher information at the estimate adds up to
    ``I``, the final posterior has variance about ``v_f = 1 / (1 / v + I)`` (``v`` the current
    posterior variance), and the final posterior mean is distributed as the current posterior
    shrunk towards its mean by ``s = sqrt(1 - v_f / v)``. The chance of staying is the chance that
    the final mean stays within the level's cuts, that is the posterior probability of the interval
    ``theta + (cut - theta) / s`` between the two cuts, integrated like the level probabilities
    (:func:`posterior_cdf`)."""

    cuts: tuple[float, ...]
    gamma: float = 0.08
    name: str = "curtailment"

    def __post_init__(self) -> None:
        if not 0 < self.gamma < 1:
            raise ValueError("gamma must be in (0, 1)")

    def change_probability(self, ctx: StopContext) -> tuple[int, float]:
        """(most probable level, predicted chance of leaving it)."""
        probs = ctx.level_probs
        best = 0  # the first largest (a loop: builtin max parses its arguments slowly when cold)
        for k in range(1, len(probs)):
            if probs[k] > probs[best]:
                best = k
        left = ctx.max_items - ctx.n
        if left <= 0:
            return best, 0.0
        var = ctx.se * ctx.se
        info = ctx.remaining_info(left)
        shrink = math.sqrt(info * var / (1.0 + info * var))
        theta = ctx.theta
        lo = self.cuts[best - 1] if best > 0 else -math.inf
        hi = self.cuts[best] if best < len(self.cuts) else math.inf
        if shrink <= 0.0:  # nothing left to learn: the final mean is the current one
            return best, 0.0 if lo < theta < hi else 0.5 if theta in (lo, hi) else 1.0
        grid = ctx.grid_list
        start, step, last = grid[0], grid[1] - grid[0], len(grid) - 1
        lo, hi = theta + (lo - theta) / shrink, theta + (hi - theta) / shrink
        first, stop = window(start, step, last, lo, hi)  # only the nodes the integral reads as Python floats
        inside = interval_mass(ctx.posterior[first:stop].tolist(), start, step, lo, hi, first, last)
        change = 1.0 - inside / ctx.mass  # clamped to [0, 1]
        if change < 0.0:
            change = 0.0
        elif change > 1.0:
            change = 1.0
        return best, change

    def decide(self, ctx: StopContext) -> int | None:
        best, change = self.change_probability(ctx)
        return best if change < self.gamma else None


def window(start: float, step: float, last: int, lo: float, hi: float) -> tuple[int, int]:
    """The grid nodes ``first`` to ``stop - 1`` that :func:`interval_mass` reads between ``lo`` and
    ``hi`` on the grid ``start + j * step`` (``j`` up to ``last``): from two below the node at or
    below ``lo`` to four above ``hi``'s, clamped to the grid (the ends found as it finds them)."""
    x = (lo - start) / step
    first = 0 if not x > 2.0 else last - 1 if x >= last else int(x) - 2
    x = (hi - start) / step
    return first, 4 if not x > 0.0 else last + 1 if x >= last - 3 else int(x) + 4


def interval_mass(
    weights: list[float], start: float, step: float, lo: float, hi: float, first: int = 0, last: int = -1
) -> float:
    """The posterior mass between ``lo`` and ``hi`` from its ``weights`` on the grid
    ``start + j * step``, integrated as the level probabilities are: the trapezoid rule between
    nodes with the Euler-Maclaurin end correction ``-step^2/12 f'`` at each end (the derivative from
    four neighbouring nodes, blended between the two nodes around the end), the density linear
    between nodes. Nothing lies below the grid, the whole mass above it.

    ``weights`` may be a window of the grid: ``weights[k]`` is node ``first + k`` of a grid whose
    last node is ``last`` (by default the whole grid); it must hold the nodes from two below
    ``lo``'s to four above ``hi``'s, clamped to the grid (see :func:`window`)."""
    if last < 0:
        last = len(weights) - 1
    ends = []
    for t in (lo, hi):
        x = (t - start) / step
        if not x > 0.0:  # below the grid (or minus infinity)
            ends.append((0, 0.0))
            continue
        if x >= last:
            ends.append((last + 1, 0.0))
            continue
        j = int(x)
        u = x - j
        k = j - first
        wj, wk = weights[k], weights[k + 1]
        partial = 0.5 * wj + u * wj + 0.5 * u * u * (wk - wj)  # the trapezoid's half node, then the slice
        if 2 <= j and j + 3 <= last:  # step^2 f' at the two nodes, in weight units
            dj = (weights[k - 2] - 8.0 * weights[k - 1] + 8.0 * wk - weights[k + 2]) / 12.0
            dk = (weights[k - 1] - 8.0 * wj + 8.0 * weights[k + 2] - weights[k + 3]) / 12.0
            partial -= ((1.0 - u) * dj + u * dk) / 12.0
        ends.append((j, partial))
    (j_lo, part_lo), (j_hi, part_hi) = ends
    return sum(weights[j_lo - first : j_hi - first]) + part_hi - part_lo
