"""Placement quality by the measurement protocol: several bank draws (synthetic 500-item banks,
mean discrimination 1.5), N officials each with abilities from N(0, 1), every configuration on the
same officials giving the same answers (shared random numbers: examinee e answers item i right
when U[e, i] < P_i(theta_e)), so the comparisons are paired. Beside them, measured in the same
run on the same draws:

- the optimal sequential frontier (dynamic programming over the posterior, see
  services/placement/domain/cat/frontier.py) at each configuration's mean length and maximum: the
  lower of two upper bounds, the clairvoyant one (the bank's best items at the final estimate for
  every examinee) and the path one (the information of items chosen knowing only the current
  posterior); both assume no exposure ceiling and no content balancing, and the engine held to
  those assumptions (no exposure ceiling, one content area, no randomesque start: the last
  configuration, on the same officials and answers) has to stay below it;
- for each configuration with an exposure ceiling, the exposure-aware frontier: the lower of those
  two and the Lagrangian bound for rules that keep every item's exposure within the ceiling
  (``frontier.ExposureFrontier``: the path bound with a price on each item, multipliers searched
  for ``--exposure-iterations`` steps on the defaults' row, a third of that warm-started on the
  others); the engine with its ceiling has to stay below it;
- catsim (MaxInfoSelector with the same exposure ceiling, NumericalSearchEstimator,
  ConfidenceIntervalStopper on the same cuts and length bounds) at the defaults' mean length: its
  confidence level is chosen on a pilot sample so that its mean length matches, then it runs on
  the same officials, with the paired difference in exact accuracy and its 95 % interval.

Targets: within 1 point of the frontier at equal mean length (printed against both frontiers); no
worse than catsim at equal mean length; mean length <= 22 with E[acc] >= 85 %; >= 97 % correct for
officials 0.3 or more from every cut; <= 0.1 % off by two levels; max exposure <= .30.

    .venv/bin/python bench/bench_placement_quality.py [--draws 3] [--examinees 4000] [--catsim-examinees N]
        [--pilot N] [--defaults-only] [--exposure-iterations 24]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
from _common import ROOT  # noqa: F401  (puts the repository on sys.path)
from rich.console import Console
from rich.table import Table

from services.placement.domain.cat.cat import Bank, TestConfig
from services.placement.domain.cat.model import prob
from services.placement.domain.cat.protocol import Cache, Draw, FrontierFigures, draws, frontier_of, mean_ci, run
from services.placement.domain.cat.simulate import synthetic_bank
from services.placement.domain.cat.stopper import level_of
from services.placement.settings import get_settings


def single_area(bank: Bank) -> Bank:
    """The same items in one content area (content balancing has nothing to balance)."""
    return Bank(bank.a, bank.b, bank.c, np.zeros(len(bank), dtype=np.int64), ("all",))


def run_catsim(bank: Bank, cfg: TestConfig, confidence: float, thetas: np.ndarray, uniforms: np.ndarray):
    """catsim on the same officials and answers: (levels, lengths, max exposure)."""
    from catsim.estimation import NumericalSearchEstimator
    from catsim.item_bank import ItemBank
    from catsim.selection import MaxInfoSelector
    from catsim.stopping import ConfidenceIntervalStopper

    cat_bank = ItemBank(np.column_stack([bank.a, bank.b, bank.c, np.ones(len(bank))]))
    selector = MaxInfoSelector(r_max=cfg.r_max)
    estimator = NumericalSearchEstimator()
    stopper = ConfidenceIntervalStopper(
        list(cfg.cuts), confidence=confidence, min_items=cfg.min_items, max_items=cfg.max_items
    )
    counts = np.zeros(len(bank))
    estimates, lengths = np.zeros(len(thetas)), np.zeros(len(thetas), dtype=np.int64)
    for e, theta in enumerate(thetas):
        administered: list[int] = []
        answers: list[bool] = []
        est = 0.0  # catsim's FixedPointInitializer(0)
        while True:
            if administered and stopper.stop(administered_items=cat_bank.get_items(administered), theta=est):
                break
            item = selector.select(item_bank=cat_bank, administered_items=administered, est_theta=est)
            if item is None:
                break
            counts[item] += 1
            p = prob(theta, bank.a[item : item + 1], bank.b[item : item + 1], bank.c[item : item + 1])[0]
            administered.append(int(item))
            answers.append(bool(uniforms[e, item] < p))
            est = estimator.estimate(
                item_bank=cat_bank, administered_items=administered, response_vector=answers, est_theta=est
            )
        cat_bank.exposure_rates[:] = counts / (e + 1)  # what catsim's simulator maintains
        estimates[e], lengths[e] = est, len(administered)
    return np.asarray(level_of(estimates, cfg.cuts)), lengths, float(counts.max() / len(thetas))


def catsim_confidence(bank: Bank, cfg: TestConfig, target: float, pilot: int, seed: int) -> float:
    """The ConfidenceIntervalStopper level whose mean length is closest to ``target`` (pilot sample)."""
    rng = np.random.default_rng(seed + 99)
    thetas, uniforms = rng.standard_normal(pilot), rng.random((pilot, len(bank)))
    tried: list[tuple[float, float]] = []
    for confidence in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98):
        _, lengths, _ = run_catsim(bank, cfg, confidence, thetas, uniforms)
        tried.append((confidence, float(lengths.mean())))
        if lengths.mean() >= target:
            break
    xs = [length for _, length in tried]
    ys = [conf for conf, _ in tried]
    if len(tried) == 1 or target <= xs[0]:
        return ys[0]
    return float(np.interp(target, xs, ys))


def gap(bound: float, exact: float, expected: float, f: dict[str, object]) -> str:
    """A frontier with the gaps to it (exact accuracy; E[acc]) beside their 95 % intervals."""
    return (
        f"{bound:.2%} ({exact - bound:+.2%} ± {f['exact_level_accuracy_ci95']:.2%}; "
        f"E {expected - bound:+.2%} ± {f['expected_accuracy_ci95']:.2%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--examinees", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--mean-a", type=float, default=1.5)
    parser.add_argument("--catsim-examinees", type=int, default=None, help="per draw (default: all); 0 skips")
    parser.add_argument("--pilot", type=int, default=300, help="officials for choosing catsim's confidence")
    parser.add_argument(
        "--defaults-only",
        action="store_true",
        help="only the defaults (with the frontier, catsim and the engine held to the frontier's assumptions)",
    )
    parser.add_argument("--exposure-iterations", type=int, default=24, help="subgradient steps (0: no exposure bound)")
    args = parser.parse_args()

    defaults = get_settings().test_config()
    base = dataclasses.replace(defaults, pretest_rate=0.0)  # lengths count scored items only
    configs = {
        f"defaults: {base.stop_rule} {base.curtail_gamma}, {base.min_items}-{base.max_items}, exp {base.r_max}": base,
        "curtailment .073, 8-50, exposure .30": dataclasses.replace(
            base, stop_rule="curtailment", curtail_gamma=0.073, max_items=50
        ),
        "SPRT, 8-30, exposure .25 (before)": dataclasses.replace(
            base, stop_rule="sprt", max_items=30, r_max=0.25, min_items=8
        ),
        "bayes .86, 8-50, exposure .30": dataclasses.replace(
            base, stop_rule="bayes", posterior_stop=0.86, max_items=50
        ),
    }
    if args.defaults_only:
        configs = dict(list(configs.items())[:1])
    unconstrained = {  # the engine held to the frontier's assumptions (one content area: below)
        "defaults without exposure ceiling, content balancing, randomesque start": dataclasses.replace(
            base, r_max=1.0, randomesque_items=0
        )
    }
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    sample = draws(
        args.draws,
        args.examinees,
        args.seed,
        make_bank=lambda s: synthetic_bank(args.items, args.mean_a, seed=s, three_pl=True),
    )
    outcomes = run(configs, sample)
    one_area = [Draw(single_area(d.bank), d.thetas, d.uniforms, d.seed) for d in sample]  # same officials, answers
    outcomes += run(unconstrained, one_area)
    configs.update(unconstrained)
    ours_s = time.perf_counter() - started

    # the frontier at each configuration's mean length on each draw (the lower of the two bounds),
    # averaged over the draws
    t0 = time.perf_counter()
    bounds: dict[str, FrontierFigures] = {}
    cache: Cache = {}
    for (name, cfg), out in zip(configs.items(), outcomes, strict=True):
        bounds[name] = frontier_of(
            cfg, out, sample, cache, exposure=args.exposure_iterations > 0, iterations=args.exposure_iterations
        )
    frontier_s = time.perf_counter() - t0

    table = Table(
        title=(
            f"Placement quality: {args.draws} draws of a {args.items}-item 3PL bank (mean a {args.mean_a}), "
            f"{args.examinees} officials each, paired; 95 % intervals"
        )
    )
    for column in (
        "configuration",
        "exact level",
        "E\\[acc]",
        "frontier at equal length (gap: exact; E\\[acc])",
        "exposure-aware frontier (gap: exact; E\\[acc])",
        "clairvoyant / path / priced path",
        "paired vs defaults",
        "mean / p95 / max length",
        "far from cuts",
        "two-level errors",
        "max exposure",
    ):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    first = outcomes[0]
    exposure_rows = {n for n, c in configs.items() if c.r_max < 1.0 and args.exposure_iterations > 0}
    below: list[str] = []  # the check: every engine row under each bound that holds for it
    for out in outcomes:
        f = out.figures(first)
        exact, expected = float(out.correct.mean()), float(out.assigned_prob.mean())  # unrounded, for the gaps
        held = [("frontier", bounds[out.name].frontier)]
        if out.name in exposure_rows:
            held.append(("exposure-aware", bounds[out.name].exposure_frontier))
        for label, bound in held:
            ok = expected < bound
            below.append(
                f"{out.name}: {label} {bound - expected:+.2%} above E[acc] (± {f['expected_accuracy_ci95']:.2%})"
                + ("" if ok else " NOT A BOUND HERE")
            )
        diff = (
            f"{f['paired_accuracy_difference']:+.1%} ± {f['paired_accuracy_difference_ci95']:.1%}; "
            f"E {f['paired_expected_difference']:+.2%} ± {f['paired_expected_difference_ci95']:.2%}"
            if "paired_accuracy_difference" in f
            else ""
        )
        table.add_row(
            out.name,
            f"{f['exact_level_accuracy']:.1%} ± {f['exact_level_accuracy_ci95']:.1%}",
            f"{f['expected_accuracy']:.1%} ± {f['expected_accuracy_ci95']:.1%}",
            gap(bounds[out.name].frontier, exact, expected, f),
            gap(bounds[out.name].exposure_frontier, exact, expected, f)
            if out.name in exposure_rows
            else "(no ceiling: as left)",
            f"{bounds[out.name].clairvoyant:.2%} / {bounds[out.name].path:.2%} / "
            + (f"{bounds[out.name].exposure_path:.2%}" if out.name in exposure_rows else "-"),
            diff,
            f"{f['mean_length']:.1f} / {f['p95_length']:.0f} / {f['max_length']}",
            f"{f['far_from_cuts_accuracy']:.1%}",
            f"{f['two_level_error_rate']:.2%}",
            f"{f['max_exposure_rate']:.3f}",
        )

    catsim_line = "catsim skipped (--catsim-examinees 0)"
    catsim_s = 0.0
    per_draw = args.examinees if args.catsim_examinees is None else min(args.catsim_examinees, args.examinees)
    if per_draw > 0:
        t0 = time.perf_counter()
        target = float(first.lengths.mean())
        confidence = catsim_confidence(sample[0].bank, base, target, args.pilot, args.seed)
        ours_correct, theirs_correct, theirs_lengths, exposure = [], [], [], 0.0
        for k, d in enumerate(sample):
            sub = Draw(d.bank, d.thetas[:per_draw], d.uniforms[:per_draw], d.seed)
            levels, lengths, max_exp = run_catsim(sub.bank, base, confidence, sub.thetas, sub.uniforms)
            truth = np.asarray(level_of(sub.thetas, base.cuts))
            theirs_correct.append(levels == truth)
            theirs_lengths.append(lengths)
            ours_correct.append(first.correct[k * args.examinees : k * args.examinees + per_draw])
            exposure = max(exposure, max_exp)
        theirs = np.concatenate(theirs_correct).astype(np.float64)
        ours = np.concatenate(ours_correct).astype(np.float64)
        lengths = np.concatenate(theirs_lengths)
        acc, acc_ci = mean_ci(theirs)
        diff, diff_ci = mean_ci(ours - theirs)
        table.add_row(
            f"catsim 0.21, CI stopper at {confidence:.3f} (reference)",
            f"{acc:.1%} ± {acc_ci:.1%}",
            "",
            "",
            "",
            "",
            f"defaults {diff:+.1%} ± {diff_ci:.1%}",
            f"{lengths.mean():.1f} / {np.percentile(lengths, 95):.0f} / {lengths.max()}",
            "",
            "",
            f"{exposure:.3f}",
        )
        catsim_s = time.perf_counter() - t0
        catsim_line = f"catsim on the first {per_draw} officials of each draw ({catsim_s:.0f} s)"

    console = Console(width=240)
    console.print(table)
    console.print(
        "check, each bound above the engine's E[acc] for every rule it holds for:\n  " + "\n  ".join(below),
        markup=False,
    )
    console.print(
        f"lengths count scored items; pretest items (LMS_PLACEMENT_PRETEST_RATE {defaults.pretest_rate}, at most "
        f"{defaults.pretest_max}) come on top. Seconds: placement {ours_s:.0f}, frontier {frontier_s:.0f}; "
        f"{catsim_line}. Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        markup=False,
    )
    console.print(
        "frontier: the lower of two Bayes-optimal rules over a normal posterior, for the same minimum and maximum "
        "length, no exposure ceiling and no content balancing: clairvoyant (the precision of the bank's best items "
        "at the final estimate) and path (each item adds its information averaged over the current posterior, at "
        "most the best item's, and n items at most the n best such); above the exact Bayes rule on the real "
        "posterior by 0.6-2.8 (clairvoyant) and 0.3-0.65 points (path) at maximum lengths 10-18 "
        "(bench/bench_frontier_bounds.py). exposure-aware frontier: the lower of those and the Lagrangian bound for "
        "rules that keep every item's exposure within the configuration's ceiling (the path model with a price on "
        "each item: accuracy less the length and the priced uses, plus the ceiling times the prices; valid for any "
        "prices, the smallest found on a 241 x 48 grid, evaluated on the fine one); the exact rule that keeps the "
        "ceiling stays below it (bench/bench_frontier_bounds.py --r-max)"
    )
    console.print(
        f"load average at the start {load_start:.1f}. "
        "targets: within 1 point of the frontier; no worse than catsim at equal length; mean length <= 22 with "
        "E[acc] >= 85 %; >= 97 % far from cuts; <= 0.1 % two-level errors; max exposure <= .30",
        markup=False,
    )


if __name__ == "__main__":
    main()
