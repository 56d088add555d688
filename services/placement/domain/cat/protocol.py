"""The measurement protocol for placement quality (used by `lms placement simulate` and bench/).

Several bank draws (or, for one given bank, several independent samples of examinees), each with
``examinees`` abilities from N(0, 1) and one matrix of shared random numbers deciding every
answer, so that every configuration meets the same officials giving the same answers: the
comparisons are paired. Per configuration it reports, pooled over the draws, with 95 % confidence
intervals (normal approximation over examinees):

- exact-level accuracy, and E[acc], the mean posterior probability of the level assigned (an
  unbiased, lower-variance estimate of the same accuracy when the model holds);
- mean, 95th percentile and maximum test length (scored items; pretest items come on top);
- accuracy for officials at least ``far`` from every cut, and the rate of errors by two or more
  levels; the maximum exposure rate over the draws;
- against the first configuration, the paired differences in exact accuracy and in E[acc];
- with :func:`frontier_of`, the optimal sequential frontier at the configuration's mean length on
  each draw (the lower of the two bounds of ``frontier.py``), averaged over the draws, and the
  exposure-aware frontier (the lower of those and the Lagrangian bound for rules that keep every
  item's exposure within the configuration's ceiling, ``frontier.ExposureFrontier``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from services.placement.domain.cat.cat import Bank, TestConfig
from services.placement.domain.cat.frontier import ExposureFrontier, ExposurePoint, Frontier
from services.placement.domain.cat.simulate import simulate
from services.placement.domain.cat.stopper import level_of

Z95 = 1.959963984540054
# Grids of the two bounds (finer than their defaults): at about 22 of at most 60 items the
# posterior mean moves by about as much as a grid step per item, and interpolating on a coarse grid
# spreads it further, which reads as information. On one bank at 21.9 items the clairvoyant bound
# reads 87.13 % on 321 nodes, 86.90 on 961, 86.88 on 1,441; the path bound 86.54 % on 241 x 48,
# 86.30 on 481 x 96, 86.23 on 961 x 96 (the coarser grids raised both bounds).
FINE = 961
PATH_GRID = (481, 4.0, 96)  # mean nodes, span, precision nodes
# The exposure-aware bound searches its multipliers on the bounds' default grid (each step solves
# the priced programme, several times the path bound's work), then evaluates the bound once on the
# fine grid at the multipliers found (any multipliers give a valid bound).
SEARCH_GRID = (241, 4.0, 48)


@dataclass(frozen=True)
class Draw:
    """One bank and one sample of officials with their answers decided in advance."""

    bank: Bank
    thetas: NDArray[np.float64]
    uniforms: NDArray[np.float64]
    seed: int


def draws(
    count: int, examinees: int, seed: int, bank: Bank | None = None, make_bank: Callable[[int], Bank] | None = None
) -> list[Draw]:
    """``count`` draws: new banks from ``make_bank(seed)`` or, with ``bank``, the same bank each time."""
    out = []
    for k in range(count):
        s = seed * 1000 + k
        b = bank if bank is not None else (make_bank(s) if make_bank is not None else None)
        if b is None:
            raise ValueError("give a bank or a way to make one")
        rng = np.random.default_rng(s)
        out.append(Draw(b, rng.standard_normal(examinees), rng.random((examinees, len(b))), s))
    return out


def mean_ci(x: NDArray[np.float64]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % confidence interval."""
    if len(x) < 2:
        return float(x.mean()) if len(x) else 0.0, 0.0
    return float(x.mean()), float(Z95 * x.std(ddof=1) / np.sqrt(len(x)))


@dataclass
class Outcome:
    """One configuration over every draw, examinee by examinee (draws concatenated)."""

    name: str
    correct: NDArray[np.bool_]
    assigned_prob: NDArray[np.float64]
    lengths: NDArray[np.int64]
    errors: NDArray[np.int64]  # |assigned - true level|
    far: NDArray[np.bool_]  # at least `far` from every cut
    max_exposure: float
    pretest_per_examinee: float
    stop_reasons: dict[str, int] = field(default_factory=dict)
    rmse: float = 0.0
    step_p50_us: float = 0.0
    step_p95_us: float = 0.0

    def figures(self, baseline: Outcome | None = None) -> dict[str, object]:
        exact, exact_ci = mean_ci(self.correct.astype(np.float64))
        expected, expected_ci = mean_ci(self.assigned_prob)
        far_acc, far_ci = mean_ci(self.correct[self.far].astype(np.float64))
        out: dict[str, object] = {
            "configuration": self.name,
            "examinees": len(self.correct),
            "exact_level_accuracy": round(exact, 4),
            "exact_level_accuracy_ci95": round(exact_ci, 4),
            "expected_accuracy": round(expected, 4),
            "expected_accuracy_ci95": round(expected_ci, 4),
            "within_one_level_accuracy": round(float((self.errors <= 1).mean()), 4),
            "far_from_cuts_accuracy": round(far_acc, 4),
            "far_from_cuts_accuracy_ci95": round(far_ci, 4),
            "two_level_error_rate": round(float((self.errors >= 2).mean()), 5),
            "mean_length": round(float(self.lengths.mean()), 2),
            "p95_length": round(float(np.percentile(self.lengths, 95)), 1),
            "max_length": int(self.lengths.max()),
            "pretest_per_examinee": round(self.pretest_per_examinee, 2),
            "max_exposure_rate": round(self.max_exposure, 4),
            "ability_rmse": round(self.rmse, 4),
            "step_p50_us": round(self.step_p50_us, 1),
            "step_p95_us": round(self.step_p95_us, 1),
            "stop_reasons": self.stop_reasons,
        }
        if baseline is not None and baseline is not self:
            diff, diff_ci = mean_ci(self.correct.astype(np.float64) - baseline.correct.astype(np.float64))
            out["paired_accuracy_difference"] = round(diff, 4)
            out["paired_accuracy_difference_ci95"] = round(diff_ci, 4)
            diff, diff_ci = mean_ci(self.assigned_prob - baseline.assigned_prob)
            out["paired_expected_difference"] = round(diff, 4)
            out["paired_expected_difference_ci95"] = round(diff_ci, 4)
            out["paired_against"] = baseline.name
        return out


def outcome_of(
    name: str,
    cuts: Sequence[float],
    runs: list[tuple[Draw, NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], float]],
    far: float = 0.3,
) -> Outcome:
    """Pool per-draw results ``(draw, levels, lengths, assigned_probs, max_exposure)``."""
    cut_arr = np.asarray(cuts)
    thetas = np.concatenate([d.thetas for d, *_ in runs])
    levels = np.concatenate([lv for _, lv, *_ in runs])
    truth = np.asarray(level_of(thetas, tuple(cuts)))
    distance = np.abs(thetas[:, None] - cut_arr[None, :]).min(axis=1) if len(cut_arr) else np.full(len(thetas), 9.0)
    return Outcome(
        name=name,
        correct=levels == truth,
        assigned_prob=np.concatenate([p for *_, p, _ in runs]),
        lengths=np.concatenate([ln for _, _, ln, *_ in runs]),
        errors=np.abs(levels - truth),
        far=distance >= far,
        max_exposure=max(x for *_, x in runs),
        pretest_per_examinee=0.0,
    )


def run(configs: dict[str, TestConfig], sample: list[Draw], far: float = 0.3) -> list[Outcome]:
    """Every configuration on every draw, paired (the same officials and answers)."""
    outcomes = []
    for name, cfg in configs.items():
        parts = []
        reasons: dict[str, int] = {}
        pretest = sq_err = 0.0
        p50: list[float] = []
        p95: list[float] = []
        for d in sample:
            rep = simulate(d.bank, cfg, len(d.thetas), d.seed, thetas=d.thetas, uniforms=d.uniforms)
            parts.append(
                (
                    d,
                    np.asarray(rep.levels),
                    np.asarray(rep.lengths),
                    np.asarray(rep.assigned_probs),
                    rep.max_exposure,
                )
            )
            for k, v in rep.stop_reasons.items():
                reasons[k] = reasons.get(k, 0) + v
            pretest += rep.pretest_per_examinee * len(d.thetas)
            sq_err += rep.rmse**2 * len(d.thetas)
            p50.append(rep.step_p50_us)
            p95.append(rep.step_p95_us)
        out = outcome_of(name, cfg.cuts, parts, far)
        total = sum(len(d.thetas) for d in sample)
        out.stop_reasons = reasons
        out.pretest_per_examinee = pretest / total
        out.rmse = float(np.sqrt(sq_err / total))
        out.step_p50_us, out.step_p95_us = float(np.median(p50)), float(np.median(p95))
        outcomes.append(out)
    return outcomes


@dataclass(frozen=True)
class FrontierFigures:
    """The frontier at a configuration's mean length, averaged over the draws: the clairvoyant
    bound, the path bound, the frontier reported (the lower of the two on each draw), and for a
    configuration with an exposure ceiling the exposure-aware (Lagrangian) path bound and the
    exposure-aware frontier (the lowest of the three on each draw; the frontier itself without a
    ceiling)."""

    clairvoyant: float
    path: float
    frontier: float
    exposure_path: float
    exposure_frontier: float


Cache = dict[tuple[object, ...], object]


def frontier_of(
    cfg: TestConfig,
    outcome: Outcome,
    sample: list[Draw],
    cache: Cache | None = None,
    exposure: bool = True,
    iterations: int = 24,
) -> FrontierFigures:
    """The frontier at ``outcome``'s mean length on each draw of ``sample`` (its officials in draw
    order, as :func:`run` pools them). ``cache`` keeps the path programmes, which depend only on
    the draw, the length bounds and the prior, and the last multipliers of the exposure-aware
    bound on each draw (a warm start for the next configuration: then a third of ``iterations``).
    ``exposure`` computes the exposure-aware bound when the configuration has a ceiling."""
    cache = {} if cache is None else cache
    clairvoyant, path, lower, priced, exposed = [], [], [], [], []
    start = 0
    for k, d in enumerate(sample):
        length = float(outcome.lengths[start : start + len(d.thetas)].mean())
        start += len(d.thetas)
        f = Frontier(d.bank.a, d.bank.b, d.bank.c, cfg.cuts, cfg.min_items, cfg.max_items, cfg.prior_sd, points=FINE)
        key = (k, cfg.min_items, cfg.max_items, cfg.prior_sd)
        if ("fine", *key) not in cache:
            cache[("fine", *key)] = ExposureFrontier(
                d.bank.a, d.bank.b, d.bank.c, cfg.cuts, cfg.min_items, cfg.max_items, cfg.prior_sd, *PATH_GRID
            )
        fine = cache[("fine", *key)]
        assert isinstance(fine, ExposureFrontier)
        clairvoyant.append(f.at_length(length).accuracy)
        path.append(fine.at_length(length, iterations=20).accuracy)
        lower.append(min(clairvoyant[-1], path[-1]))
        bound = path[-1]
        if exposure and cfg.r_max < 1.0:
            if ("coarse", *key) not in cache:
                cache[("coarse", *key)] = ExposureFrontier(
                    d.bank.a, d.bank.b, d.bank.c, cfg.cuts, cfg.min_items, cfg.max_items, cfg.prior_sd, *SEARCH_GRID
                )
            coarse = cache[("coarse", *key)]
            assert isinstance(coarse, ExposureFrontier)
            warm = cache.get(("prices", k))
            found = coarse.search(
                length,
                cfg.r_max,
                iterations if warm is None else max(1, iterations // 3),
                prices=warm.prices if isinstance(warm, ExposurePoint) else None,
            )
            cache[("prices", k)] = found
            bound = min(bound, fine.dual(found.cost, found.prices, length, cfg.r_max))
        priced.append(bound)
        exposed.append(min(lower[-1], bound))
    return FrontierFigures(*(float(np.mean(x)) for x in (clairvoyant, path, lower, priced, exposed)))
