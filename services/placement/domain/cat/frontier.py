"""The optimal sequential frontier: the best exact-level accuracy a selection and stopping rule can
reach at a given mean test length on a bank, by dynamic programming over the posterior. Two bounds;
the frontier reported is the lower of the two at each length (each is above every rule checked,
so the lower one is too).

:class:`Frontier` (clairvoyant). The state after ``n`` items is the posterior, approximated as
normal N(mu, 1 / tau_n(mu)) with precision ``tau_n(mu) = 1 / prior_var + sum of the n largest
Fisher informations at mu`` (the best items of the bank, no exposure limit). Given the state, the
next posterior mean is mu + sqrt(1 / tau_n - 1 / tau_(n+1)) Z (its preposterior law). Stopping pays
the probability of the most probable level; each item costs ``lam``. Backward induction gives the
Bayes-optimal rule for ``lam``; a search on ``lam`` matches a target mean length, and a forward
pass of the state distribution gives the accuracy and mean length. Its assumptions: abilities
from the prior; every examinee gets the bank's best items at the posterior mean after the test
(clairvoyant selection: no exposure ceiling, no content balancing, no items spent early at a wrong
estimate); a normal posterior.

:class:`PathFrontier` (information gathered along the way). The state is (posterior mean,
posterior precision) and an item adds the Fisher information it has on average over the current
posterior, never more than the best item's, and the precision after ``n`` items never exceeds the
prior's plus the ``n`` largest such averaged informations (nor the clairvoyant cap): a selector
that only knows the current posterior cannot be expected to gather more. It keeps the clairvoyant
frontier's other relaxations (no exposure ceiling, no content balancing, items already given may
count again in the per-item bound, a normal posterior whose mean moves by its preposterior law),
and the precision never falls. It is the tighter bound on short tests and, on some banks, at the
operating lengths.

Neither is proven for every rule: both rest on the normal approximation of the posterior. Both are
checked against :func:`exact_stopping`, the Bayes-optimal stopping rule on the engine's real grid
posterior over every answer pattern (the most informative item at the estimate, no exposure
limit), on three 500-item banks at maximum lengths 10, 14 and 18 (`bench/bench_frontier_bounds.py`,
18 cases, mean lengths 7 to 14): the clairvoyant frontier lies 0.6 to 2.8 points above it, the path
frontier 0.3 to 0.65 points above it (the margin narrowing with length: 0.5 to 0.65 at a maximum of
10, 0.3 to 0.6 at 18; 0.26 to 0.34 at a maximum of 20 and mean lengths 15 to 16.5; on a 961 x 96 grid
the two tightest cases keep 0.26 and 0.32). The grids matter on long tests: late in a test the
mean moves by about a grid step per item and interpolation spreads it further than its law, which
reads as information, so a coarse grid raises both bounds (at 21.9 of at most 60 items, by 0.25
points on the defaults' grids; the protocol bench uses finer ones). The unit tests hold
both above the exact rule, and the bench of the protocol also runs the engine under the frontier's
assumptions (no exposure ceiling, content balancing or randomesque start) at the operating
lengths, where it has to stay below.

:class:`ExposureFrontier` (for rules with an exposure ceiling). Neither bound above knows that a
programme must keep every item's exposure rate at most ``r_max``; this one does, by Lagrangian
relaxation of the ceiling (weak duality, see the class): the path model with the item chosen at
each state and a price on each item, whose best value plus ``r_max`` times the prices bounds every
rule that keeps the ceiling, whatever the prices. The exposure-aware frontier reported is the lowest
of the three. It is checked against :func:`exact_stopping` with a ceiling (a rule that keeps it
exactly, on every answer pattern) in the unit tests and `bench/bench_frontier_bounds.py`, and
against the engine with its ceiling at the operating lengths by the protocol bench.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from services.placement.domain.cat.model import Array, fisher_information, prob_grid


@dataclass(frozen=True)
class FrontierPoint:
    mean_length: float
    accuracy: float
    cost: float
    max_exposure: float = 1.0  # the largest item exposure rate (computed by exact_stopping only)


_erf = np.frompyfunc(math.erf, 1, 1)


def ndtr(z: Array) -> Array:
    """The standard normal distribution function (numpy has no erf; the table is built once)."""
    values = np.asarray(_erf(np.clip(z, -40, 40) / math.sqrt(2.0)), dtype=np.float64)
    return np.asarray(0.5 * (1.0 + values))


class Frontier:
    def __init__(
        self,
        a: Array,
        b: Array,
        c: Array,
        cuts: tuple[float, ...],
        min_items: int,
        max_items: int,
        prior_sd: float = 1.0,
        points: int = 321,
        span: float = 4.0,
    ) -> None:
        self.cuts, self.min_items, self.max_items = np.asarray(cuts), min_items, max_items
        self.mu = np.linspace(-span, span, points)
        info = np.stack([fisher_information(float(m), a, b, c) for m in self.mu])  # (points, items)
        best = -np.sort(-info, axis=1)[:, :max_items]
        self.tau = 1.0 / prior_sd**2 + np.hstack([np.zeros((points, 1)), np.cumsum(best, axis=1)])  # (points, n+1)
        self.nodes, self.weights = np.polynomial.hermite_e.hermegauss(15)
        self.weights = self.weights / self.weights.sum()
        self.prior_sd = prior_sd
        edges = np.concatenate([[-np.inf], self.cuts, [np.inf]])
        sd = 1.0 / np.sqrt(self.tau)  # (points, n+1)
        z = (edges[None, None, :] - self.mu[:, None, None]) / sd[:, :, None]
        self.reward = np.diff(ndtr(z), axis=2).max(axis=2)  # (points, n+1): P(most probable level)

    def _moves(self, n: int) -> tuple[Array, Array]:
        """Interpolation indices and weights of mu + s Z for every grid mu and quadrature node."""
        spread = np.sqrt(np.clip(1.0 / self.tau[:, n] - 1.0 / self.tau[:, n + 1], 0.0, None))
        nxt = self.mu[:, None] + spread[:, None] * self.nodes[None, :]
        return nxt, spread

    def _interp(self, values: Array, nxt: Array) -> Array:
        return np.interp(nxt.ravel(), self.mu, values).reshape(nxt.shape)

    def solve(self, lam: float) -> FrontierPoint:
        """The optimal rule for item cost ``lam``: its accuracy and mean length from the prior."""
        n_max = self.max_items
        value = self.reward[:, n_max].copy()
        stop = [np.ones(len(self.mu), dtype=bool)] * (n_max + 1)
        moves = [self._moves(n)[0] for n in range(n_max)]
        for n in range(n_max - 1, -1, -1):
            go = -lam + self._interp(value, moves[n]) @ self.weights
            here = self.reward[:, n]
            stop_here = (here >= go) if n >= self.min_items else np.zeros(len(self.mu), dtype=bool)
            stop[n] = stop_here
            value = np.where(stop_here, here, go)
        # forward: the law of the posterior mean, starting at the prior mean 0 with all mass
        mass = np.zeros(len(self.mu))
        mass[np.searchsorted(self.mu, 0.0)] = 1.0
        accuracy = length = 0.0
        step = self.mu[1] - self.mu[0]
        for n in range(n_max + 1):
            stopping = mass * stop[n]
            accuracy += float(stopping @ self.reward[:, n])
            length += n * float(stopping.sum())
            mass = mass - stopping
            if n == n_max or mass.sum() < 1e-12:
                break
            # spread each grid point's mass over its successors (linear interpolation weights)
            nxt = moves[n]
            pos = np.clip((nxt - self.mu[0]) / step, 0, len(self.mu) - 1 - 1e-9)
            lo = pos.astype(np.int64)
            frac = pos - lo
            share = mass[:, None] * self.weights[None, :]
            new = np.bincount(lo.ravel(), (share * (1 - frac)).ravel(), minlength=len(self.mu))
            new += np.bincount(lo.ravel() + 1, (share * frac).ravel(), minlength=len(self.mu) + 1)[: len(self.mu)]
            mass = np.asarray(new, dtype=np.float64)
        return FrontierPoint(length, accuracy, lam)

    def at_length(self, target: float, iterations: int = 40) -> FrontierPoint:
        """The frontier point whose mean length is ``target`` (search on the item cost)."""
        return at_length(self.solve, target, iterations)


class PathFrontier:
    """The frontier with information gathered at the current posterior: dynamic programming over
    (posterior mean, posterior precision) after ``n`` items.

    The posterior is N(mu, 1 / tau). The next item raises the precision to at most
    ``tau + A(mu, tau)``, where ``A`` is the largest Fisher information of any item averaged over
    N(mu, 1 / tau) (what one item chosen knowing only the current posterior can be expected to add;
    items already given are not excluded), and at most to the prior precision plus the ``n + 1``
    largest such averaged informations (and the clairvoyant cap at mu); a precision already above
    that is kept. The posterior mean moves by its preposterior law, mu + sqrt(1 / tau - 1 / tau') Z,
    so the model is a consistent Gaussian learning process, and a normal observation of higher
    precision is more informative (Blackwell): the Bayes-optimal rule with these increments is at
    least as good as any rule whose increments stay below them. Backward induction over the 2-D
    grid (bilinear interpolation, the precision on a geometric grid), the search on the item cost
    and the forward pass are those of :class:`Frontier`.
    """

    def __init__(
        self,
        a: Array,
        b: Array,
        c: Array,
        cuts: tuple[float, ...],
        min_items: int,
        max_items: int,
        prior_sd: float = 1.0,
        points: int = 241,
        span: float = 4.0,
        precisions: int = 48,
        keep_items: bool = False,
    ) -> None:
        self.cuts, self.min_items, self.max_items = np.asarray(cuts), min_items, max_items
        self.mu = np.linspace(-span, span, points)
        info = fisher_information(self.mu[:, None], a[None, :], b[None, :], c[None, :])  # type: ignore[arg-type]
        best = -np.sort(-info, axis=1)[:, :max_items]
        start = 1.0 / prior_sd**2
        cap = start + np.hstack([np.zeros((points, 1)), np.cumsum(best, axis=1)])  # (points, n + 1)
        self.tau = np.geomspace(start, float(cap[:, -1].max()) * 1.001, precisions)
        log_tau = np.log(self.tau)
        nodes, weights = np.polynomial.hermite_e.hermegauss(15)
        self.weights = weights / weights.sum()
        gain = np.empty((points, precisions))  # A(mu, tau)
        avg_cap = np.empty((points, precisions, max_items + 1))
        # every item's averaged information, (points, precisions, items), for the exposure bound
        self.averaged = np.empty((points, precisions, len(a) if keep_items else 0), dtype=np.float32)
        for j, t in enumerate(self.tau.tolist()):
            averaged = np.zeros((points, len(a)))
            for node, w in zip(nodes.tolist(), self.weights.tolist(), strict=True):
                x = (self.mu + node / math.sqrt(t))[:, None]
                averaged += w * fisher_information(x, a[None, :], b[None, :], c[None, :])  # type: ignore[arg-type]
            if keep_items:
                self.averaged[:, j, :] = averaged
            top = -np.sort(-averaged, axis=1)[:, :max_items]
            gain[:, j] = top[:, 0]
            avg_cap[:, j, :] = start + np.hstack([np.zeros((points, 1)), np.cumsum(top, axis=1)])
        edges = np.concatenate([[-np.inf], self.cuts, [np.inf]])
        sd = 1.0 / np.sqrt(self.tau)
        z = (edges[None, None, :] - self.mu[:, None, None]) / sd[None, :, None]
        self.reward = np.diff(ndtr(z), axis=2).max(axis=2)  # (points, precisions): P(most probable level)
        self.gain, self.nodes, self.log_tau = gain, nodes, log_tau
        self.limits = np.minimum(avg_cap[:, :, 1:], cap[:, 1:][:, None, :])  # (points, precisions, n): after n + 1
        # per n: the next precision's grid cell and weight (points, precisions), the next mean's
        # cell and weight (points, precisions, nodes)
        self.moves = [self._cells(self.tau[None, :] + gain, n) for n in range(max_items)]

    def _cells(self, target: Array, n: int) -> tuple[NDArray[np.int64], Array, NDArray[np.int64], Array]:
        """Where each state goes when its precision is raised towards ``target`` by item ``n + 1``
        (kept below the caps, never lowered): the precision's cell and weight, the mean's per node."""
        points, size = len(self.mu), len(self.tau)
        nxt = np.maximum(np.minimum(target, self.limits[:, :, n]), self.tau[None, :])
        ti = np.clip(np.searchsorted(self.log_tau, np.log(nxt), side="right") - 1, 0, size - 2)
        tw = np.clip((np.log(nxt) - self.log_tau[ti]) / (self.log_tau[ti + 1] - self.log_tau[ti]), 0.0, 1.0)
        spread = np.sqrt(np.clip(1.0 / self.tau[None, :] - 1.0 / nxt, 0.0, None))
        step = self.mu[1] - self.mu[0]
        pos = (self.mu[:, None, None] + spread[:, :, None] * self.nodes[None, None, :] - self.mu[0]) / step
        pos = np.clip(pos, 0, points - 1 - 1e-9)
        mi = pos.astype(np.int64)
        return ti[:, :, None], tw[:, :, None], mi, pos - mi

    def _corners(
        self, n: int, cells: tuple[NDArray[np.int64], Array, NDArray[np.int64], Array] | None = None
    ) -> list[tuple[NDArray[np.int64], Array]]:
        """The four grid cells each state's successors fall in, with their weights (per node)."""
        ti, tw, mi, mw = self.moves[n] if cells is None else cells
        size = len(self.tau)
        return [
            (mi * size + ti, (1.0 - mw) * (1.0 - tw)),
            (mi * size + ti + 1, (1.0 - mw) * tw),
            ((mi + 1) * size + ti, mw * (1.0 - tw)),
            ((mi + 1) * size + ti + 1, mw * tw),
        ]

    def solve(self, lam: float) -> FrontierPoint:
        """The optimal rule for item cost ``lam``: its accuracy and mean length from the prior."""
        n_max = self.max_items
        value = self.reward.copy()
        stop = [np.ones(self.reward.shape, dtype=bool)] * (n_max + 1)
        for n in range(n_max - 1, -1, -1):
            flat = value.ravel()
            go = -lam + sum(flat[cell] * w for cell, w in self._corners(n)) @ self.weights
            stop_here = (self.reward >= go) if n >= self.min_items else np.zeros(self.reward.shape, dtype=bool)
            stop[n] = stop_here
            value = np.where(stop_here, self.reward, go)
        mass = np.zeros(self.reward.shape)  # all of it at the prior: mean 0, the prior's precision
        mass[np.searchsorted(self.mu, 0.0), 0] = 1.0
        accuracy = length = 0.0
        for n in range(n_max + 1):
            stopping = mass * stop[n]
            accuracy += float((stopping * self.reward).sum())
            length += n * float(stopping.sum())
            mass = mass - stopping
            if n == n_max or mass.sum() < 1e-12:
                break
            share = mass[:, :, None] * self.weights[None, None, :]
            new = np.zeros(mass.size + len(self.tau) + 1)
            for cell, w in self._corners(n):
                new += np.bincount(cell.ravel(), (share * w).ravel(), minlength=len(new))[: len(new)]
            mass = new[: mass.size].reshape(mass.shape)
        return FrontierPoint(length, accuracy, lam)

    def at_length(self, target: float, iterations: int = 24) -> FrontierPoint:
        """The point whose mean length is ``target`` (search on the item cost)."""
        return at_length(self.solve, target, iterations)


@dataclass(frozen=True)
class PricedPoint:
    """One solution of the priced programme: its value (accuracy less the costs), mean length,
    accuracy and the expected number of uses of each item (the last three with the forward pass)."""

    value: float
    mean_length: float
    accuracy: float
    uses: Array


@dataclass(frozen=True)
class ExposurePoint:
    """The exposure-aware bound at a mean length, with the multipliers that gave it."""

    bound: float
    cost: float
    prices: Array
    unpriced: float  # the same programme's bound with no prices (the path bound on this grid)


class ExposureFrontier(PathFrontier):
    """The path frontier for rules that keep every item's exposure rate at most ``r_max``, by
    Lagrangian relaxation (weak duality).

    For an item cost ``lam >= 0`` and item prices ``prices >= 0``, any rule whose mean length is
    ``L`` and whose items all have exposure rates at most ``r_max`` has ``E[acc] <= E[acc] - lam
    (E[n] - L) - sum_i prices_i (P(item i used) - r_max) <= V(lam, prices) + lam L + r_max
    sum_i prices_i``, where ``V`` is the best value of ``E[acc] - lam E[n] - sum_i prices_i E[uses
    of i]`` over every rule of the path model with no ceiling at all. That model is
    :class:`PathFrontier`'s with the item chosen: from (mu, tau) item i raises the precision towards
    ``tau + A_i(mu, tau)`` (its information averaged over the current posterior, under the same
    caps) and costs ``lam + prices_i``. A real rule gives an item at most once per official, so its
    expected uses are its exposure rate; as a rule of the model (which may also repeat items, paying
    each time) it is bounded like every other, for every choice of multipliers, and the smallest
    value found is the bound (a search stopped early gives a looser bound, never a wrong one). With
    no prices it is the path bound. Items without a price are all worth the best of them; an item
    with a price is credited the next of ``levels`` gains between that best and the best of all at
    the state (rounding its gain up keeps the bound on the safe side).
    """

    def __init__(
        self,
        a: Array,
        b: Array,
        c: Array,
        cuts: tuple[float, ...],
        min_items: int,
        max_items: int,
        prior_sd: float = 1.0,
        points: int = 241,
        span: float = 4.0,
        precisions: int = 48,
        levels: int = 8,
    ) -> None:
        super().__init__(a, b, c, cuts, min_items, max_items, prior_sd, points, span, precisions, keep_items=True)
        self.levels, self.items = levels, len(a)

    def solve_priced(self, lam: float, prices: Array, forward: bool = True) -> PricedPoint:
        """The best rule of the priced programme: backward induction over (mean, precision) with the
        item chosen at each state, then (``forward``) its length, accuracy and item uses."""
        n_max, shape, k_max = self.max_items, self.reward.shape, self.levels
        priced = np.flatnonzero(prices > 0)
        free = np.ones(self.items, dtype=bool)
        free[priced] = False
        best_free = np.where(free[None, None, :], self.averaged, -1.0).argmax(axis=2)  # per state
        gain_free = np.take_along_axis(self.averaged, best_free[:, :, None], axis=2)[:, :, 0].astype(np.float64)
        gain_priced = self.averaged[:, :, priced].astype(np.float64)  # (points, precisions, priced)
        top = np.maximum(gain_free, gain_priced.max(axis=2)) if len(priced) else gain_free
        span = np.maximum(top - gain_free, 1e-12)
        # the gain level each priced item is credited (rounded up); 0 when the best free item beats it
        level = np.ceil((gain_priced - gain_free[:, :, None]) / span[:, :, None] * k_max - 1e-9).astype(np.int64)
        level = np.where(gain_priced > gain_free[:, :, None], np.clip(level, 1, k_max), 0)
        targets = [self.tau[None, :] + gain_free + span * k / k_max for k in range(k_max + 1)]
        levels_used = [0, *sorted(set(level[level > 0].tolist()))]
        value = self.reward.copy()
        stop = [np.ones(shape, dtype=bool)] * (n_max + 1)
        chosen = [np.full(shape, -1, dtype=np.int64)] * n_max  # -1: the best free item, else a priced one
        credited = [np.zeros(shape, dtype=np.int64)] * n_max
        for n in range(n_max - 1, -1, -1):
            flat = value.ravel()
            worth = np.full((k_max + 1, *shape), -np.inf)
            for k in levels_used:
                corners = self._corners(n, self._cells(targets[k], n))
                worth[k] = sum(flat[cell] * w for cell, w in corners) @ self.weights
            go = worth[0] - lam
            pick = np.full(shape, -1, dtype=np.int64)
            gets = np.zeros(shape, dtype=np.int64)
            for j, charge in enumerate(prices[priced].tolist()):
                k = level[:, :, j]
                option = np.where(k > 0, np.take_along_axis(worth, k[None], 0)[0], -np.inf) - lam - charge
                better = option > go
                go = np.where(better, option, go)
                pick = np.where(better, j, pick)
                gets = np.where(better, k, gets)
            chosen[n], credited[n] = pick, gets
            stop_here = (self.reward >= go) if n >= self.min_items else np.zeros(shape, dtype=bool)
            stop[n] = stop_here
            value = np.where(stop_here, self.reward, go)
        start = (int(np.searchsorted(self.mu, 0.0)), 0)
        total = float(value[start])
        uses = np.zeros(self.items)
        if not forward:
            return PricedPoint(total, math.nan, math.nan, uses)
        mass = np.zeros(shape)
        mass[start] = 1.0
        accuracy = length = 0.0
        for n in range(n_max + 1):
            stopping = mass * stop[n]
            accuracy += float((stopping * self.reward).sum())
            length += n * float(stopping.sum())
            mass = mass - stopping
            if n == n_max or mass.sum() < 1e-12:
                break
            item = np.where(chosen[n] >= 0, priced[np.clip(chosen[n], 0, None)] if len(priced) else 0, best_free)
            uses += np.bincount(item.ravel(), mass.ravel(), minlength=self.items)
            new = np.zeros(mass.size + len(self.tau) + 1)
            for k in levels_used:
                share = np.where(credited[n] == k, mass, 0.0)[:, :, None] * self.weights[None, None, :]
                for cell, w in self._corners(n, self._cells(targets[k], n)):
                    new += np.bincount(cell.ravel(), (share * w).ravel(), minlength=len(new))[: len(new)]
            mass = new[: mass.size].reshape(shape)
        return PricedPoint(total, length, accuracy, uses)

    def dual(self, lam: float, prices: Array, target: float, r_max: float) -> float:
        """The bound ``V(lam, prices) + lam target + r_max sum(prices)`` (valid for any multipliers)."""
        return self.solve_priced(lam, prices, forward=False).value + lam * target + r_max * float(prices.sum())

    def search(
        self, target: float, r_max: float, iterations: int = 24, prices: Array | None = None, step: float = 0.1
    ) -> ExposurePoint:
        """The smallest bound found: the item cost by bisection with no prices (the path bound on
        this grid), then ``iterations`` projected subgradient steps from ``prices`` (none: zero)
        (a price rises with its item's expected uses above ``r_max``, the cost with the mean length
        above ``target``; steps of ``step`` times the cost found over the square root of the step)."""
        lo, hi = 1e-6, 0.1
        unpriced, lam = math.inf, hi
        zero = np.zeros(self.items)
        for _ in range(14):
            mid = math.sqrt(lo * hi)
            point = self.solve_priced(mid, zero)
            if point.value + mid * target < unpriced:
                unpriced, lam = point.value + mid * target, mid
            lo, hi = (mid, hi) if point.mean_length > target else (lo, mid)
        prices = zero.copy() if prices is None else prices.copy()
        best = ExposurePoint(unpriced, lam, zero, unpriced)
        scale = lam
        for t in range(1, iterations + 1):
            point = self.solve_priced(lam, prices)
            bound = point.value + lam * target + r_max * float(prices.sum())
            if bound < best.bound:
                best = ExposurePoint(bound, lam, prices.copy(), unpriced)
            prices = np.maximum(prices + step * scale / math.sqrt(t) * np.clip(point.uses - r_max, -r_max, 1.0), 0.0)
            lam *= math.exp(0.5 / math.sqrt(t) * (point.mean_length - target) / target)
        return best


def at_length(solve: Callable[[float], FrontierPoint], target: float, iterations: int) -> FrontierPoint:
    """The point of the rules ``solve(lam)`` whose mean length is ``target``: a geometric search on
    the item cost, then the randomised mixture of the two rules around the target."""
    lo, hi = 1e-7, 0.5
    best = solve(hi)
    for _ in range(iterations):
        mid = float(np.sqrt(lo * hi))
        point = solve(mid)
        if point.mean_length > target:
            lo = mid
        else:
            hi, best = mid, point
    low = solve(lo)
    if abs(low.mean_length - best.mean_length) > 1e-9:
        w = (target - best.mean_length) / (low.mean_length - best.mean_length)
        w = min(max(w, 0.0), 1.0)
        return FrontierPoint(target, best.accuracy + w * (low.accuracy - best.accuracy), float(np.sqrt(lo * hi)))
    return best


def exact_stopping(
    a: Array,
    b: Array,
    c: Array,
    level_matrix: Array,
    grid: Array,
    log_prior: Array,
    min_items: int,
    max_items: int,
    lam: float,
    r_max: float = 1.0,
) -> FrontierPoint:
    """The Bayes-optimal stopping rule for item cost ``lam`` on the real grid posterior, by backward
    induction over every answer pattern (2^max_items of them: short tests only), each item the most
    informative at the EAP estimate. Accuracy and mean length from the prior.

    With ``r_max < 1`` the rule keeps every item's exposure rate at most ``r_max``: the officials
    are split at random into ``ceil(1 / r_max)`` equal groups before the first item (so that not
    everyone gets the same first item), and an item goes to a pattern only while the probability
    of the patterns it has gone to stays within ``r_max`` (else the next most informative item).
    ``max_exposure`` is the largest probability that an item is given (the rule's stops count)."""
    groups = 1 if r_max >= 1.0 else math.ceil(1.0 / r_max - 1e-9)
    like = prob_grid(grid, a, b, c)
    prior = np.exp(log_prior - log_prior.max())
    joint = [np.repeat((prior / prior.sum() / groups)[None, :], groups, axis=0)]  # per depth: prior x likelihood
    used = np.zeros((groups, 0), dtype=np.int64)
    given = np.zeros(len(a))  # probability of the patterns each item has gone to
    chosen: list[NDArray[np.int64]] = []
    for _ in range(max_items):
        w = joint[-1]
        weight = w.sum(axis=1)
        means = (w @ grid) / weight
        items = np.empty(len(w), dtype=np.int64)
        for j, mean in enumerate(means.tolist()):
            info = fisher_information(mean, a, b, c)
            info[used[j]] = -1.0
            if groups > 1:
                info[given + weight[j] > r_max + 1e-12] = -1.0
            items[j] = int(info.argmax())
            given[items[j]] += weight[j]
        chosen.append(items)
        p = like[items]
        joint.append(np.stack([w * (1.0 - p), w * p], axis=1).reshape(-1, len(grid)))  # wrong, right
        used = np.repeat(np.hstack([used, items[:, None]]), 2, axis=0)
    mass = [w.sum(axis=1) for w in joint]
    reward = [(w @ level_matrix).max(axis=1) for w in joint]  # P(pattern) x P(most probable level)
    value = reward[max_items]
    stop = [np.ones(len(value), dtype=bool)] * (max_items + 1)
    for n in range(max_items - 1, -1, -1):
        go = value.reshape(-1, 2).sum(axis=1) - lam * mass[n]
        stop[n] = reward[n] >= go if n >= min_items else np.zeros(len(go), dtype=bool)
        value = np.where(stop[n], reward[n], go)
    alive = np.ones(groups, dtype=bool)
    accuracy = length = 0.0
    exposure = np.zeros(len(a))
    for n in range(max_items + 1):
        stopping = alive & stop[n]
        accuracy += float(reward[n][stopping].sum())
        length += n * float(mass[n][stopping].sum())
        going = alive & ~stop[n]
        if n < max_items:
            exposure += np.bincount(chosen[n][going], mass[n][going], minlength=len(a))
        alive = np.repeat(going, 2)
    return FrontierPoint(length, accuracy, lam, float(exposure.max()))
