"""Placement quality on a simulated 500-item bank (mean discrimination about 1.5), 1,000 examinees
with abilities from N(0, 1), through the real engine with the default test configuration, beside
catsim's MaxInfoSelector (r_max 0.25) with its ConfidenceIntervalStopper (95%, same cut scores,
same 8-30 items) on the same bank with the same abilities and the same response draws (shared
random numbers: examinee e answers item i right when U[e, i] < P_i(theta_e), for both engines).

Targets: exact-level accuracy >= 85 %, mean length <= 22, maximum exposure <= 0.30.

    .venv/bin/python bench/bench_placement_quality.py [--examinees N] [--seed S] [--model 2pl|3pl|both]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from _common import ROOT  # noqa: F401  (puts the repository on sys.path)
from rich.console import Console
from rich.table import Table

from services.placement.domain.cat.cat import Bank, TestConfig
from services.placement.domain.cat.model import prob
from services.placement.domain.cat.simulate import simulate, synthetic_bank
from services.placement.domain.cat.stopper import level_of
from services.placement.settings import get_settings


def run_catsim(bank: Bank, cfg: TestConfig, thetas: np.ndarray, uniforms: np.ndarray) -> dict[str, float]:
    from catsim.estimation import NumericalSearchEstimator
    from catsim.item_bank import ItemBank
    from catsim.selection import MaxInfoSelector
    from catsim.stopping import ConfidenceIntervalStopper

    cat_bank = ItemBank(np.column_stack([bank.a, bank.b, bank.c, np.ones(len(bank))]))
    selector = MaxInfoSelector(r_max=cfg.r_max)
    estimator = NumericalSearchEstimator()
    stopper = ConfidenceIntervalStopper(
        list(cfg.cuts), confidence=0.95, min_items=cfg.min_items, max_items=cfg.max_items
    )
    counts = np.zeros(len(bank))
    estimates, lengths = np.zeros(len(thetas)), np.zeros(len(thetas))
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
    truth, placed = level_of(thetas, cfg.cuts), level_of(estimates, cfg.cuts)
    return {
        "exact": float((truth == placed).mean()),
        "within_one": float((np.abs(truth - placed) <= 1).mean()),
        "mean_length": float(lengths.mean()),
        "p95_length": float(np.percentile(lengths, 95)),
        "rmse": float(np.sqrt(((estimates - thetas) ** 2).mean())),
        "max_exposure": float(counts.max() / len(thetas)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examinees", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", choices=["2pl", "3pl", "both"], default="both")
    args = parser.parse_args()
    cfg = get_settings().test_config()
    table = Table(title=f"Placement quality, 500-item bank, {args.examinees} examinees from N(0, 1), seed {args.seed}")
    for column in (
        "bank",
        "engine",
        "exact level",
        "within one",
        "mean length",
        "p95 length",
        "RMSE",
        "max exposure",
        "seconds",
    ):
        table.add_column(column, justify="left" if column in ("bank", "engine") else "right")
    models = ["2pl", "3pl"] if args.model == "both" else [args.model]
    for model in models:
        bank = synthetic_bank(500, 1.5, seed=7, three_pl=model == "3pl")
        rng = np.random.default_rng(args.seed)
        thetas = rng.standard_normal(args.examinees)
        uniforms = rng.random((args.examinees, len(bank)))
        label = f"{model.upper()}, mean a {bank.a.mean():.2f}" + (", c~U(0,0.2)" if model == "3pl" else "")
        t0 = time.perf_counter()
        ours = simulate(bank, cfg, args.examinees, args.seed, thetas=thetas, uniforms=uniforms)
        ours_s = time.perf_counter() - t0
        table.add_row(
            label,
            "placement (SPRT, defaults)",
            f"{ours.exact_accuracy:.1%}",
            f"{ours.within_one_accuracy:.1%}",
            f"{ours.mean_length:.1f}",
            f"{ours.p95_length:.0f}",
            f"{ours.rmse:.3f}",
            f"{ours.max_exposure:.3f}",
            f"{ours_s:.1f}",
        )
        longer = dataclasses.replace(cfg, max_items=36)
        t0 = time.perf_counter()
        alt = simulate(bank, longer, args.examinees, args.seed, thetas=thetas, uniforms=uniforms)
        alt_s = time.perf_counter() - t0
        table.add_row(
            label,
            "placement (SPRT, max 36 items)",
            f"{alt.exact_accuracy:.1%}",
            f"{alt.within_one_accuracy:.1%}",
            f"{alt.mean_length:.1f}",
            f"{alt.p95_length:.0f}",
            f"{alt.rmse:.3f}",
            f"{alt.max_exposure:.3f}",
            f"{alt_s:.1f}",
        )
        t0 = time.perf_counter()
        ref = run_catsim(bank, cfg, thetas, uniforms)
        ref_s = time.perf_counter() - t0
        table.add_row(
            label,
            "catsim MaxInfo + CI stopper (reference)",
            f"{ref['exact']:.1%}",
            f"{ref['within_one']:.1%}",
            f"{ref['mean_length']:.1f}",
            f"{ref['p95_length']:.0f}",
            f"{ref['rmse']:.3f}",
            f"{ref['max_exposure']:.3f}",
            f"{ref_s:.1f}",
        )
    console = Console(width=200)
    console.print(table)
    console.print("targets: exact-level accuracy >= 85%, mean length <= 22, max exposure <= 0.30")


if __name__ == "__main__":
    main()
