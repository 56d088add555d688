"""How tight the two frontier bounds are: each beside the exact Bayes-optimal stopping rule on the
engine's real grid posterior, which they must stay above.

On synthetic 500-item 3PL banks (mean discrimination 1.5, the protocol's banks), for each maximum
length and item cost: ``frontier.exact_stopping`` (every answer pattern, 2^max of them; the most
informative item at the estimate, no exposure limit) gives a mean length and an accuracy; at that
mean length (same minimum and maximum) the clairvoyant frontier (the bank's best items at the final
estimate) and the path frontier (information averaged over the current posterior, see
services/placement/domain/cat/frontier.py). The margins are what each bound adds to the exact
rule; a negative margin would mean the bound is not one.

With an exposure ceiling (``--r-max``, on the maximum lengths up to ``--r-max-items``): the exact
rule that keeps every item's exposure within it (``exact_stopping`` with ``r_max``: the officials
split at random into ceil(1 / r_max) groups, each item given while the probability of the
patterns it went to stays within the ceiling) beside the exposure-aware frontier at its mean
length (``ExposureFrontier``, the lower of its Lagrangian bound and the path bound), which must
stay above it, and the unconstrained bounds, which must too.

    .venv/bin/python bench/bench_frontier_bounds.py [--banks 3] [--max-items 10,14,18] [--costs 0.01,0.001]
        [--r-max 0.3] [--r-max-items 14] [--iterations 24]
"""

from __future__ import annotations

import argparse
import time

from _common import ROOT  # noqa: F401  (puts the repository on sys.path)
from rich.console import Console
from rich.table import Table

from services.placement.domain.cat.cat import TestConfig
from services.placement.domain.cat.frontier import ExposureFrontier, Frontier, exact_stopping
from services.placement.domain.cat.simulate import synthetic_bank


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--banks", type=int, default=3, help="banks drawn with seeds 1000, 1001, ...")
    parser.add_argument("--max-items", default="10,14,18")
    parser.add_argument("--min-items", type=int, default=4)
    parser.add_argument("--costs", default="0.01,0.001", help="item costs of the exact rule")
    parser.add_argument("--r-max", type=float, default=0.3, help="exposure ceiling of the second table (1: none)")
    parser.add_argument("--r-max-items", type=int, default=14, help="longest maximum checked with the ceiling")
    parser.add_argument("--iterations", type=int, default=24, help="subgradient steps of the exposure-aware bound")
    args = parser.parse_args()
    cfg = TestConfig()
    est = cfg.estimator
    table = Table(title="Frontier bounds against the exact Bayes stopping rule (accuracy; margins in points)")
    for column in ("bank", "max", "cost", "exact mean length", "exact rule", "path", "clairvoyant", "margins"):
        table.add_column(column, justify="right")
    margins: dict[str, list[float]] = {"path": [], "clairvoyant": []}
    capped = Table(
        title=f"With exposure ceiling {args.r_max}: the bounds against the exact rule that keeps it (margins in points)"
    )
    for column in (
        "bank",
        "max",
        "cost",
        "exact mean length",
        "its max exposure",
        "exact rule",
        "exposure-aware",
        "path",
        "clairvoyant",
        "margins",
    ):
        capped.add_column(column, justify="right")
    ceiling: dict[str, list[float]] = {"exposure-aware": [], "path": [], "clairvoyant": []}
    started = time.perf_counter()
    for k in range(args.banks):
        bank = synthetic_bank(500, 1.5, seed=1000 + k)
        for max_items in (int(x) for x in args.max_items.split(",")):
            clairvoyant = Frontier(bank.a, bank.b, bank.c, cfg.cuts, args.min_items, max_items, cfg.prior_sd)
            path = ExposureFrontier(bank.a, bank.b, bank.c, cfg.cuts, args.min_items, max_items, cfg.prior_sd)
            for lam in (float(x) for x in args.costs.split(",")):
                exact = exact_stopping(
                    bank.a, bank.b, bank.c, cfg.level_matrix, est.grid, est.log_prior, args.min_items, max_items, lam
                )
                p = path.at_length(exact.mean_length).accuracy
                q = clairvoyant.at_length(exact.mean_length).accuracy
                margins["path"].append(p - exact.accuracy)
                margins["clairvoyant"].append(q - exact.accuracy)
                table.add_row(
                    str(1000 + k),
                    str(max_items),
                    f"{lam:g}",
                    f"{exact.mean_length:.2f}",
                    f"{exact.accuracy:.2%}",
                    f"{p:.2%}",
                    f"{q:.2%}",
                    f"{100 * (p - exact.accuracy):+.2f} / {100 * (q - exact.accuracy):+.2f}",
                )
                if args.r_max >= 1.0 or max_items > args.r_max_items:
                    continue
                kept = exact_stopping(
                    bank.a,
                    bank.b,
                    bank.c,
                    cfg.level_matrix,
                    est.grid,
                    est.log_prior,
                    args.min_items,
                    max_items,
                    lam,
                    args.r_max,
                )
                p = path.at_length(kept.mean_length).accuracy
                q = clairvoyant.at_length(kept.mean_length).accuracy
                e = min(p, q, path.search(kept.mean_length, args.r_max, args.iterations).bound)
                for name, bound in (("exposure-aware", e), ("path", p), ("clairvoyant", q)):
                    ceiling[name].append(bound - kept.accuracy)
                capped.add_row(
                    str(1000 + k),
                    str(max_items),
                    f"{lam:g}",
                    f"{kept.mean_length:.2f}",
                    f"{kept.max_exposure:.3f}",
                    f"{kept.accuracy:.2%}",
                    f"{e:.2%}",
                    f"{p:.2%}",
                    f"{q:.2%}",
                    f"{100 * (e - kept.accuracy):+.2f} / {100 * (p - kept.accuracy):+.2f} / "
                    f"{100 * (q - kept.accuracy):+.2f}",
                )
    console = Console(width=160)
    console.print(table)
    for name, values in margins.items():
        console.print(
            f"{name}: above the exact rule by {100 * min(values):+.2f} to {100 * max(values):+.2f} points "
            f"({len(values)} cases; a bound needs every margin above 0)"
        )
    if ceiling["path"]:
        console.print(capped)
        for name, values in ceiling.items():
            console.print(
                f"{name}: above the exact rule with the ceiling by {100 * min(values):+.2f} to "
                f"{100 * max(values):+.2f} points ({len(values)} cases)"
            )
    console.print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
