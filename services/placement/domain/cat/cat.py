"""One adaptive step: estimate, decide whether to stop, otherwise select the next item.

``step`` is stateless: it takes the bank, the configuration, what has been administered so far
and the live exposure counts, and returns what to do next. The service calls it once per answer;
the simulator calls it in a loop.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from services.placement.domain.cat.content import content_order, first_group, uncovered
from services.placement.domain.cat.estimator import EAPEstimator
from services.placement.domain.cat.exposure import eligible, randomesque
from services.placement.domain.cat.model import Array, prob_grid
from services.placement.domain.cat.selector import InfoSelector, Tables, best_items
from services.placement.domain.cat.stopper import (
    CurtailmentStopper,
    CutStopper,
    PosteriorStopper,
    StopContext,
    Stopper,
    level_weights,
    most_probable,
)

STOP_RULES = ("sprt", "glr", "bayes", "curtailment")
_RNG = np.random.default_rng()  # when the caller gives none
_product = np.multiply.reduce
_add = operator.add
_new = tuple.__new__  # a Step without NamedTuple's Python-level __new__
_not_above_zero = (0.0).__ge__


@dataclass(frozen=True)
class TestConfig:
    __test__ = False  # not a pytest test class
    cuts: tuple[float, ...] = (-1.5, -0.5, 0.5, 1.5)
    min_items: int = 8
    max_items: int = 30
    stop_rule: str = "sprt"
    posterior_stop: float = 0.9  # the "bayes" rule: stop when the most probable level has this much
    curtail_gamma: float = 0.08  # the "curtailment" rule: stop when a change of level is this unlikely
    delta: float = 0.3
    alpha: float = 0.05
    beta: float = 0.05
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    kl_items: int = 3
    cut_window: float = 0.3
    randomesque_items: int = 3
    randomesque_k: int = 5
    r_max: float = 0.25
    exposure_warmup: int = 100
    content_targets: tuple[tuple[str, float], ...] = ()  # empty: the bank's shares (else equal shares)
    content_tolerance: float = 0.0
    pretest_rate: float = 0.1
    pretest_max: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.min_items <= self.max_items:
            raise ValueError("need 1 <= min_items <= max_items")
        if not 0 < self.r_max <= 1:
            raise ValueError("r_max must be in (0, 1]")
        if not 0 <= self.pretest_rate < 1:
            raise ValueError("pretest_rate must be in [0, 1)")
        if self.stop_rule not in STOP_RULES:
            raise ValueError(f"stop_rule must be one of {', '.join(STOP_RULES)}")
        if not 0 < self.posterior_stop < 1:
            raise ValueError("posterior_stop must be in (0, 1)")
        if not 0 < self.curtail_gamma < 1:
            raise ValueError("curtail_gamma must be in (0, 1)")
        if list(self.cuts) != sorted(self.cuts) or len(set(self.cuts)) != len(self.cuts):
            raise ValueError("cuts must be strictly increasing")
        if not (0 < self.alpha < 0.5 and 0 < self.beta < 0.5 and self.delta > 0 and self.prior_sd > 0):
            raise ValueError("need 0 < alpha, beta < 0.5 and positive delta and prior_sd")
        if any(share < 0 for _, share in self.content_targets):
            raise ValueError("content target shares must not be negative")

    @cached_property
    def estimator(self) -> EAPEstimator:
        return EAPEstimator(self.prior_mean, self.prior_sd)

    @cached_property
    def cut_stopper(self) -> CutStopper:
        """The SPRT or GLR stopper (its points also key the bank's tables, whatever the rule)."""
        return CutStopper(self.cuts, self.delta, self.alpha, self.beta, "glr" if self.stop_rule == "glr" else "sprt")

    @cached_property
    def stopper(self) -> Stopper:
        """The configured stopping rule."""
        if self.stop_rule == "bayes":
            return PosteriorStopper(self.posterior_stop)
        if self.stop_rule == "curtailment":
            return CurtailmentStopper(self.cuts, self.curtail_gamma)
        return self.cut_stopper

    @cached_property
    def selector(self) -> InfoSelector:
        return InfoSelector(self.cuts, self.delta, self.kl_items, self.cut_window)

    @cached_property
    def level_matrix(self) -> Array:
        """(grid points, levels): posterior weights @ this = probability of each level (a grid
        point on a cut counts half to each side)."""
        return level_weights(self.estimator.grid, self.cuts)

    @cached_property
    def moment_matrix(self) -> Array:
        """Posterior @ this = [1, mean, second moment, P(level 0), ...] (one product per step)."""
        return self.estimator.moment_matrix(self.level_matrix)

    @cached_property
    def grid_list(self) -> list[float]:
        return list(self.estimator.grid.tolist())

    def __hash__(self) -> int:
        """The fields' hash, computed once (the engine looks its plan up by configuration every step)."""
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = self.__dict__["_hash"] = hash(tuple(getattr(self, f) for f in self.__dataclass_fields__))
        return int(cached)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_") and k in self.__dataclass_fields__}


class Bank:
    """Item parameters of one (immutable) bank version as arrays; index = position in the version."""

    def __init__(
        self,
        a: Array,
        b: Array,
        c: Array,
        domain: NDArray[np.int64],
        domains: tuple[str, ...],
        pretest: NDArray[np.bool_] | None = None,
        shares: tuple[float, ...] | None = None,
    ) -> None:
        self.a, self.b, self.c = (np.asarray(x, dtype=np.float64) for x in (a, b, c))
        self.domain = np.asarray(domain, dtype=np.int64)
        self.domain_list: list[int] = self.domain.tolist()
        self.domains = domains
        self.shares = shares  # the bank's target share per domain (None: equal shares)
        self.pretest = np.zeros(len(self.a), dtype=bool) if pretest is None else np.asarray(pretest, dtype=bool)
        self.operational = ~self.pretest
        self.domain_masks = (  # operational items of each domain
            np.stack([(self.domain == d) & self.operational for d in range(len(domains))])
            if domains
            else np.zeros((0, len(self.a)), dtype=bool)
        )
        self._targets: dict[tuple[tuple[str, float], ...], list[float]] = {}
        self._tables: dict[tuple[object, ...], Tables] = {}
        self._plans: dict[TestConfig, Plan] = {}
        # the configuration asked for last and its plan, in one attribute (replaced whole, so a
        # reader never pairs one configuration with another's plan); the step's first look
        self.last: tuple[object, Plan] = (None, cast(Plan, None))

    def plan(self, cfg: TestConfig) -> Plan:
        """What ``step`` needs of this version under ``cfg``, computed once per configuration value
        (a published version is immutable, so caching is safe; the service builds a new, equal
        configuration for every answer, so the key is the value, not the object)."""
        plan = self._plans.get(cfg)
        if plan is None:
            plan = self._plans[cfg] = Plan.build(self, cfg)
        self.last = (cfg, plan)
        return plan

    def tables(self, cfg: TestConfig) -> Tables:
        """The selection tables (shared by the configurations with the same grid, cuts and criteria)."""
        key = (cfg.prior_mean, cfg.prior_sd, cfg.cuts, cfg.delta, cfg.kl_items)
        tables = self._tables.get(key)
        if tables is None:
            tables = self._tables[key] = Tables.build(
                cfg.estimator.grid,
                self.a,
                self.b,
                self.c,
                cfg.selector,
                self.domain,
                len(self.domains),
                self.operational,
            )
        return tables

    def open_items(self, items: list[int]) -> NDArray[np.bool_]:
        """Operational items not given yet (a fresh array)."""
        available = self.operational.copy()
        if items:
            available[items] = False
        return available

    def __len__(self) -> int:
        return len(self.a)

    def targets(self, cfg: TestConfig) -> list[float]:
        key = cfg.content_targets
        if key not in self._targets:
            present = np.bincount(self.domain[self.operational], minlength=len(self.domains)) > 0
            if key:
                wanted = dict(key)
                t = np.array([wanted.get(d, 0.0) for d in self.domains]) * present
            elif self.shares is not None:
                t = np.asarray(self.shares, dtype=np.float64) * present
            else:
                t = present.astype(np.float64)
            self._targets[key] = (t / t.sum() if t.sum() > 0 else t).tolist()
        return self._targets[key]


@dataclass(frozen=True)
class Plan:
    """One bank version under one configuration, ready for ``step``: likelihood rows on the grid
    (row ``i`` a wrong answer to item i, row ``size + i`` a right one, the last row the prior
    density), their logarithms and those at the SPRT points, the moment matrix and the selection
    tables, with the configuration's strategies."""

    size: int
    like: Array
    log_like: Array
    log_points: Array
    moments_t: Array  # the moment matrix transposed (contiguous rows: the quickest product)
    tables: Tables
    grid: Array
    grid_list: list[float]
    log_prior: Array
    targets: list[float]
    domains: int  # how many content areas
    all_targeted: bool  # every content area has a positive target share
    domain_of: bytes | list[int]  # every item's content area (bytes: compact, for up to 256 areas)
    prior_row: int  # the prior density's row of ``like``
    row_offset: tuple[int, int]  # a response's offset of its likelihood row: (0, size)
    areas: range  # the content areas' indices
    zeros: tuple[float, ...]  # one 0.0 per level
    stopper: Stopper
    selector: InfoSelector
    has_pretest: bool
    next_best_info: Callable[[float, int, int], float]  # the tables' (see Tables.next_best_info)

    @classmethod
    def build(cls, bank: Bank, cfg: TestConfig) -> Plan:
        estimator = cfg.estimator
        grid = estimator.grid
        p = prob_grid(grid, bank.a, bank.b, bank.c)
        prior = np.exp(estimator.log_prior)
        points = prob_grid(cfg.cut_stopper.points(), bank.a, bank.b, bank.c)
        targets = bank.targets(cfg)
        return cls(
            size=len(bank),
            like=np.ascontiguousarray(np.vstack([1.0 - p, p, prior[None, :]])),
            log_like=np.vstack([np.log1p(-p), np.log(p)]),
            log_points=np.vstack([np.log1p(-points), np.log(points)]),
            moments_t=np.ascontiguousarray(cfg.moment_matrix.T),
            tables=bank.tables(cfg),
            grid=grid,
            grid_list=cfg.grid_list,
            log_prior=estimator.log_prior,
            targets=targets,
            domains=len(targets),
            all_targeted=all(t > 0 for t in targets),
            domain_of=bytes(bank.domain_list) if len(bank.domains) <= 256 else bank.domain_list,
            prior_row=2 * len(bank),
            row_offset=(0, len(bank)),
            areas=range(len(targets)),
            zeros=(0.0,) * (len(cfg.cuts) + 1),
            stopper=cfg.stopper,
            selector=cfg.selector,
            has_pretest=bool(bank.pretest.any()),
            next_best_info=bank.tables(cfg).next_best_info,
        )

    def posterior(self, rows: list[int]) -> tuple[Array, float, list[float]]:
        """The posterior on the grid after the answers ``rows``, unnormalised, its mass, and
        ``[1, mean, second moment, P(level 0), ...]`` (normalised).

        The product of the answers' likelihood rows and the prior row (two numpy calls, and one
        product with the moment matrix); should it underflow (hundreds of unlikely answers), the
        same on the log scale shifted by its maximum."""
        w = np.multiply.reduce(self.like.take([*rows, 2 * self.size], 0), 0)
        m = self.moments_t.dot(w).tolist()
        if not m[0] > 1e-250:
            log_w = self.loglik(rows) + self.log_prior
            w = np.exp(log_w - log_w.max())
            m = self.moments_t.dot(w).tolist()
        mass = m[0]
        scale = 1.0 / mass
        return w, mass, [x * scale for x in m]

    def point_loglik(self, rows: list[int]) -> Array:
        """The log likelihood of the answers ``rows`` at the SPRT points."""
        return np.asarray(np.add.reduce(self.log_points[rows], axis=0))

    def loglik(self, rows: list[int]) -> Array:
        """The log likelihood on the grid of the answers ``rows`` (without the prior row)."""
        return np.add.reduce(self.log_like.take(rows, 0), 0) if rows else np.zeros(len(self.grid))


@dataclass
class TestState:
    """What one examinee has been given: item indices, whether each was scored, and the answers
    (1 right, 0 wrong) in order."""

    __test__ = False

    items: list[int] = field(default_factory=list)
    scored: list[bool] = field(default_factory=list)
    responses: list[int] = field(default_factory=list)

    def scored_items(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        mask = np.asarray(self.scored, dtype=bool)
        return np.asarray(self.items, dtype=np.int64)[mask], np.asarray(self.responses, dtype=np.int64)[mask]


class Step(NamedTuple):
    done: bool
    item: int | None  # next item index (None when done)
    pretest: bool
    theta: float
    se: float
    level: int | None  # decided level when done
    level_probs: list[float]
    n_scored: int
    reason: str  # "continue", a stopping rule's name, "max-length" or "bank-exhausted"
    criterion: str = ""


def step(
    bank: Bank,
    cfg: TestConfig,
    state: TestState,
    counts: NDArray[np.int64] | None = None,
    sessions: int = 0,
    rng: np.random.Generator | None = None,
) -> Step:
    """One adaptive step: estimate, stop with a level, or choose the next item.

    Everything that depends only on the bank version and the configuration is in its ``Plan``; the
    step itself is the posterior (two numpy calls and one product: mass, mean, second moment and
    level probabilities), the configured stopping rule, and a walk down the selection criterion's
    ranked items (plain Python). With cold caches, as in a server between requests, each numpy call
    costs microseconds of fetching code again, so the step makes as few as it can."""
    last = bank.last
    plan = last[1] if last[0] is cfg else bank.plan(cfg)
    items, scored, responses = state.items, state.scored, state.responses
    if not len(items) == len(scored) == len(responses):
        raise ValueError("a test state's items, scored flags and responses must have the same length")
    size, domain_of = plan.size, plan.domain_of
    if not all(scored) or not isinstance(domain_of, bytes):  # pretest items to skip, or a list of areas
        given = [0] * plan.domains
        rows = []
        for i, s, r in zip(items, scored, responses, strict=True):
            if s:
                rows.append(i + size * r)
                given[domain_of[i]] += 1
    else:  # every item scored: the rows and the items per area by C-level iteration (no bytecode per item)
        rows = list(map(_add, items, map(plan.row_offset.__getitem__, responses)))
        given = list(map(bytes(map(domain_of.__getitem__, items)).count, plan.areas))
    n = len(rows)
    # the posterior on the grid: the product of the answers' likelihood rows and the prior row,
    # then one product with the moment matrix (see Plan.posterior, which this inlines)
    rows.append(plan.prior_row)
    posterior = _product(plan.like.take(rows, 0), 0)
    moments = plan.moments_t.dot(posterior).tolist()
    del rows[-1]
    mass = moments[0]
    if not mass > 1e-250:
        posterior, mass, moments = plan.posterior(rows)
        scale = 1.0
    else:
        scale = 1.0 / mass
    theta = moments[1] * scale
    var = moments[2] * scale - theta * theta
    se = math.sqrt(var if var > 1e-12 else 1e-12)  # (no builtin max: with cold caches, its argument parsing costs)
    level_probs = list(map(scale.__mul__, moments[3:]))  # (a map, not a comprehension: no code object)
    if any(map(_not_above_zero, level_probs)):  # the end correction can dip below 0 by 1e-6
        for j in range(len(level_probs)):
            p = level_probs[j]
            level_probs[j] = p if p > 0.0 else 0.0

    if n >= cfg.max_items:
        return _new(Step, (True, None, False, theta, se, most_probable(level_probs), level_probs, n, "max-length", ""))

    targets = plan.targets
    if n >= cfg.min_items and (0 not in given if plan.all_targeted else not uncovered(given, targets)):
        # the stopping context in field order (see StopContext), built in C; the plan is its evidence
        ctx = _new(
            StopContext,
            (n, cfg.max_items, theta, se, posterior, level_probs, plan.grid, plan.grid_list, plan, rows, mass),
        )
        decided = plan.stopper.decide(ctx)
        if decided is not None:
            return _new(Step, (True, None, False, theta, se, decided, level_probs, n, plan.stopper.name, ""))

    rng = rng or _RNG
    n_pretest = len(state.scored) - n
    if (
        plan.has_pretest
        and cfg.pretest_rate > 0
        and n >= 1
        and n_pretest < cfg.pretest_max
        and rng.random() < cfg.pretest_rate
    ):
        administered = np.zeros(size, dtype=bool)
        administered[state.items] = True
        pool = np.flatnonzero(bank.pretest & ~administered)
        if len(pool):
            item = int(pool[rng.integers(len(pool))])
            return _new(Step, (False, item, True, theta, se, None, level_probs, n, "continue", "pretest"))

    criterion, table, row, weight = plan.selector.locate(theta, n, plan.tables)
    k = cfg.randomesque_k if n < cfg.randomesque_items else 1
    taken = set(items)
    count_of = counts.item if counts is not None and cfg.r_max < 1 else None
    limit = cfg.r_max * max(sessions, cfg.exposure_warmup)  # eligible below it (see exposure.eligible)
    # the content group with the largest deficit first; the others, in order, only when it has no
    # eligible item left
    group = first_group(given, targets, n, cfg.content_tolerance)
    best = best_items(table, row, weight, group, taken, count_of, limit, k) if group else []
    if not best:
        for group in content_order(given, targets, cfg.content_tolerance)[1:]:
            best = best_items(table, row, weight, group, taken, count_of, limit, k)
            if best:
                break
    if best:
        chosen = best[0] if len(best) == 1 else best[int(rng.random() * len(best))]
        return _new(Step, (False, chosen, False, theta, se, None, level_probs, n, "continue", criterion))

    # no eligible item left in any targeted domain: items over the exposure ceiling, then any domain
    scores = table.at(row, weight)
    candidates = bank.open_items(state.items)
    if count_of is not None and counts is not None:
        allowed = candidates & eligible(counts, sessions, cfg.r_max, cfg.exposure_warmup)
        if allowed.any():
            candidates = allowed
    chosen_mask = None
    for group in content_order(given, targets, cfg.content_tolerance):
        mask = bank.domain_masks[group[0]] if len(group) == 1 else bank.domain_masks[group].any(axis=0)
        mask = candidates & mask
        if mask.any():
            chosen_mask = mask
            break
    if chosen_mask is None:
        if not candidates.any():
            return _new(
                Step, (True, None, False, theta, se, most_probable(level_probs), level_probs, n, "bank-exhausted", "")
            )
        chosen_mask = candidates
    if k <= 1:
        chosen = int(np.where(chosen_mask, scores, -np.inf).argmax())
    else:
        chosen = randomesque(scores, chosen_mask, k, rng)
    return _new(Step, (False, chosen, False, theta, se, None, level_probs, n, "continue", criterion))
