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
        for j, t in enumerate(self.tau.tolist()):
            averaged = np.zeros((points, len(a)))
            for node, w in zip(nodes.tolist(), self.weights.tolist(), strict=True):
                x = (self.mu + node / math.sqrt(t))[:, None]
                averaged += w * fisher_information(x, a[None, :], b[None, :], c[None, :])  # type: ignore[arg-type]
            top = -np.sort(-averaged, axis=1)[:, :max_items]
            gain[:, j] = top[:, 0]
            avg_cap[:, j, :] = start + np.hstack([np.zeros((points, 1)), np.cumsum(top, axis=1)])
        edges = np.concatenate([[-np.inf], self.cuts, [np.inf]])
        sd = 1.0 / np.sqrt(self.tau)
        z = (edges[None, None, :] - self.mu[:, None, None]) / sd[None, :, None]
        self.reward = np.diff(ndtr(z), axis=2).max(axis=2)  # (points, precisions): P(most probable level)
        step = self.mu[1] - self.mu[0]
        # per n: the next precision's grid cell and weight (points, precisions), the next mean's
        # cell and weight (points, precisions, nodes)
        self.moves: list[tuple[NDArray[np.int64], Array, NDArray[np.int64], Array]] = []
        for n in range(max_items):
            limit = np.minimum(avg_cap[:, :, n + 1], cap[:, n + 1][:, None])
            nxt = np.maximum(np.minimum(self.tau[None, :] + gain, limit), self.tau[None, :])
            ti = np.clip(np.searchsorted(log_tau, np.log(nxt), side="right") - 1, 0, precisions - 2)
            tw = np.clip((np.log(nxt) - log_tau[ti]) / (log_tau[ti + 1] - log_tau[ti]), 0.0, 1.0)
            spread = np.sqrt(np.clip(1.0 / self.tau[None, :] - 1.0 / nxt, 0.0, None))
            pos = (self.mu[:, None, None] + spread[:, :, None] * nodes[None, None, :] - self.mu[0]) / step
            pos = np.clip(pos, 0, points - 1 - 1e-9)
            mi = pos.astype(np.int64)
            self.moves.append((ti[:, :, None], tw[:, :, None], mi, pos - mi))

    def _corners(self, n: int) -> list[tuple[NDArray[np.int64], Array]]:
        """The four grid cells each state's successors fall in, with their weights (per node)."""
        ti, tw, mi, mw = self.moves[n]
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
) -> FrontierPoint:
    """The Bayes-optimal stopping rule for item cost ``lam`` on the real grid posterior, by backward
    induction over every answer pattern (2^max_items of them: short tests only), each item the most
    informative at the EAP estimate with no exposure limit. Accuracy and mean length from the prior."""
    like = prob_grid(grid, a, b, c)
    joint = [np.exp(log_prior - log_prior.max())[None, :]]  # per depth: prior x likelihood of each pattern
    joint[0] = joint[0] / joint[0].sum()
    used = np.zeros((1, 0), dtype=np.int64)
    for _ in range(max_items):
        w = joint[-1]
        means = (w @ grid) / w.sum(axis=1)
        items = np.empty(len(w), dtype=np.int64)
        for j, mean in enumerate(means.tolist()):
            info = fisher_information(mean, a, b, c)
            info[used[j]] = -1.0
            items[j] = int(info.argmax())
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
    alive = np.ones(1, dtype=bool)
    accuracy = length = 0.0
    for n in range(max_items + 1):
        stopping = alive & stop[n]
        accuracy += float(reward[n][stopping].sum())
        length += n * float(mass[n][stopping].sum())
        alive = np.repeat(alive & ~stop[n], 2)
    return FrontierPoint(length, accuracy, lam)
