"""One adaptive step: estimate, decide whether to stop, otherwise select the next item.

``step`` is stateless: it takes the bank, the configuration, what has been administered so far
and the live exposure counts, and returns what to do next. The service calls it once per answer;
the simulator calls it in a loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.placement.engine.content import allowed_domains, uncovered
from services.placement.engine.estimator import EAPEstimator, Estimate
from services.placement.engine.exposure import eligible, randomesque
from services.placement.engine.model import Array, prob_grid
from services.placement.engine.selector import InfoSelector
from services.placement.engine.stopper import CutStopper, level_of


@dataclass(frozen=True)
class TestConfig:
    __test__ = False  # not a pytest test class
    cuts: tuple[float, ...] = (-1.5, -0.5, 0.5, 1.5)
    min_items: int = 8
    max_items: int = 30
    stop_rule: str = "sprt"
    delta: float = 0.3
    alpha: float = 0.05
    beta: float = 0.05
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    kl_items: int = 3
    cut_window: float = 0.0
    randomesque_items: int = 3
    randomesque_k: int = 5
    r_max: float = 0.25
    exposure_warmup: int = 100
    content_targets: tuple[tuple[str, float], ...] = ()  # empty: equal shares across the bank's domains
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

    @cached_property
    def estimator(self) -> EAPEstimator:
        return EAPEstimator(self.prior_mean, self.prior_sd)

    @cached_property
    def stopper(self) -> CutStopper:
        return CutStopper(self.cuts, self.delta, self.alpha, self.beta, self.stop_rule)

    @cached_property
    def selector(self) -> InfoSelector:
        return InfoSelector(self.cuts, self.delta, self.kl_items, self.cut_window)

    @cached_property
    def grid_levels(self) -> NDArray[np.int64]:
        return np.asarray(level_of(self.estimator.grid, self.cuts))

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
    ) -> None:
        self.a, self.b, self.c = (np.asarray(x, dtype=np.float64) for x in (a, b, c))
        self.domain = np.asarray(domain, dtype=np.int64)
        self.domains = domains
        self.pretest = np.zeros(len(self.a), dtype=bool) if pretest is None else np.asarray(pretest, dtype=bool)
        self.operational = ~self.pretest
        self._cut_kl: dict[tuple[tuple[float, ...], float], Array] = {}
        self._targets: dict[tuple[tuple[str, float], ...], Array] = {}
        self._tables: dict[tuple[object, ...], tuple[Array, Array, Array, Array]] = {}

    def grid_tables(self, cfg: TestConfig) -> tuple[Array, Array, Array, Array]:
        """log P and log(1 - P) of every item on the estimator grid and at the SPRT points,
        computed once per bank version and configuration (a published version is immutable)."""
        key = ("grid", cfg.prior_mean, cfg.prior_sd, cfg.cuts, cfg.delta)
        tables = self._tables.get(key)
        if tables is None:
            grid = cfg.estimator.grid
            p = prob_grid(grid, self.a, self.b, self.c)
            pts = prob_grid(cfg.stopper.points(), self.a, self.b, self.c)
            tables = (np.log(p), np.log1p(-p), np.log(pts), np.log1p(-pts))
            self._tables[key] = tables
        return tables

    def __len__(self) -> int:
        return len(self.a)

    def cut_kl(self, cfg: TestConfig) -> Array:
        key = (cfg.cuts, cfg.delta)
        if key not in self._cut_kl:
            self._cut_kl[key] = cfg.selector.cut_tables(self.a, self.b, self.c)
        return self._cut_kl[key]

    def targets(self, cfg: TestConfig) -> Array:
        key = cfg.content_targets
        if key not in self._targets:
            present = np.bincount(self.domain[self.operational], minlength=len(self.domains)) > 0
            if key:
                wanted = dict(key)
                t = np.array([wanted.get(d, 0.0) for d in self.domains]) * present
            else:
                t = present.astype(np.float64)
            self._targets[key] = t / t.sum() if t.sum() > 0 else t
        return self._targets[key]


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


@dataclass(frozen=True)
class Step:
    done: bool
    item: int | None  # next item index (None when done)
    pretest: bool
    theta: float
    se: float
    level: int | None  # decided level when done
    level_probs: list[float]
    n_scored: int
    reason: str  # "continue", "sprt", "glr", "max-length", "bank-exhausted"
    criterion: str = ""


def estimate(
    bank: Bank, cfg: TestConfig, state: TestState
) -> tuple[Estimate, Array, NDArray[np.int64], NDArray[np.int64]]:
    """EAP estimate from the scored responses (log likelihood summed from the cached tables)."""
    items, resp = state.scored_items()
    log_p, log_q, _, _ = bank.grid_tables(cfg)
    right = resp.astype(bool)
    loglik = log_p[items[right]].sum(axis=0) + log_q[items[~right]].sum(axis=0)
    return cfg.estimator.estimate(loglik), loglik, items, resp


def step(
    bank: Bank,
    cfg: TestConfig,
    state: TestState,
    counts: NDArray[np.int64] | None = None,
    sessions: int = 0,
    rng: np.random.Generator | None = None,
) -> Step:
    rng = rng or np.random.default_rng()
    current, loglik, items, resp = estimate(bank, cfg, state)
    n = len(items)
    posterior = current.posterior()
    probs = np.bincount(cfg.grid_levels, weights=posterior, minlength=len(cfg.cuts) + 1)
    level_probs = probs.tolist()

    def finish(reason: str, level: int | None = None) -> Step:
        chosen = int(np.argmax(probs)) if level is None else level
        return Step(True, None, False, current.theta, current.se, chosen, level_probs, n, reason)

    if n >= cfg.max_items:
        return finish("max-length")

    given = (
        np.bincount(bank.domain[items], minlength=len(bank.domains))
        if n
        else np.zeros(len(bank.domains), dtype=np.int64)
    )
    targets = bank.targets(cfg)
    if n >= cfg.min_items and uncovered(given, targets) == 0:
        stopper = cfg.stopper
        points = None
        if stopper.rule == "sprt":
            _, _, pts_p, pts_q = bank.grid_tables(cfg)
            right = resp.astype(bool)
            points = pts_p[items[right]].sum(axis=0) + pts_q[items[~right]].sum(axis=0)
        decided = stopper.decided_level(stopper.decisions(stopper.statistics(cfg.estimator.grid, loglik, points)))
        if decided is not None:
            return finish(stopper.rule, decided)

    administered = np.zeros(len(bank), dtype=bool)
    administered[np.asarray(state.items, dtype=np.int64)] = True

    n_pretest = len(state.scored) - n
    if cfg.pretest_rate > 0 and n >= 1 and n_pretest < cfg.pretest_max and rng.random() < cfg.pretest_rate:
        pool = np.flatnonzero(bank.pretest & ~administered)
        if len(pool):
            return Step(
                False,
                int(pool[rng.integers(len(pool))]),
                True,
                current.theta,
                current.se,
                None,
                level_probs,
                n,
                "continue",
                "pretest",
            )

    open_items = bank.operational & ~administered
    if not open_items.any():
        return finish("bank-exhausted")
    candidates = open_items
    if counts is not None and cfg.r_max < 1:
        allowed = open_items & eligible(counts, sessions, cfg.r_max, cfg.exposure_warmup)
        if allowed.any():
            candidates = allowed
    available = np.bincount(bank.domain[candidates], minlength=len(bank.domains)) > 0
    domains_ok = allowed_domains(given, targets, available, cfg.content_tolerance)
    candidates = candidates & domains_ok[bank.domain]
    scores = cfg.selector.scores(current.theta, n, bank.a, bank.b, bank.c, bank.cut_kl(cfg))
    k = cfg.randomesque_k if n < cfg.randomesque_items else 1
    chosen = randomesque(scores, candidates, k, rng)
    return Step(
        False,
        chosen,
        False,
        current.theta,
        current.se,
        None,
        level_probs,
        n,
        "continue",
        cfg.selector.criterion(current.theta, n),
    )
