"""`lms placement ...`: tools for the placement service."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from services.placement.domain import bank as bank_rules
from services.placement.domain.cat.cat import Bank, TestConfig


@click.group()
def cli() -> None:
    """Placement service tools (simulation)."""


def load_bank_file(path: Path) -> Bank:
    """A bank file in the import format (JSON, or CSV by extension) as engine arrays."""
    body = path.read_bytes()
    try:
        raw = bank_rules.parse_csv(body) if path.suffix.lower() == ".csv" else bank_rules.parse_json(body)
        rows = bank_rules.validate_rows(raw, None)  # a file names its own domains
    except bank_rules.ImportErrors as exc:
        lines = "\n".join(f"  row {e['row']}: {e['field']}: {e['reason']}" for e in exc.errors[:20])
        raise click.ClickException(f"{path} is not a valid bank ({len(exc.errors)} problems):\n{lines}") from exc
    rows = [r for r in rows if r["status"] != "retired"]
    used = {r["domain"] for r in rows}
    domains = tuple(d for d in bank_rules.DOMAINS if d in used) + tuple(sorted(used - set(bank_rules.DOMAINS)))
    index = {d: i for i, d in enumerate(domains)}
    return Bank(
        np.array([r["a"] for r in rows]),
        np.array([r["b"] for r in rows]),
        np.array([r["c"] for r in rows]),
        np.array([index[r["domain"]] for r in rows], dtype=np.int64),
        domains,
        np.array([r["status"] == "pretest" for r in rows], dtype=bool),
    )


@cli.command()
@click.option(
    "--bank",
    "bank_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A bank in the import format; without it, each draw is a new synthetic bank (--items, --mean-a, --model).",
)
@click.option("--draws", default=3, show_default=True, type=click.IntRange(1, 100), help="Bank draws (or samples).")
@click.option("--examinees", default=4000, show_default=True, type=click.IntRange(1, 1_000_000), help="Per draw.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--items", default=500, show_default=True, type=click.IntRange(5, 100_000))
@click.option("--mean-a", default=1.5, show_default=True, type=click.FloatRange(0.1, 5))
@click.option("--model", type=click.Choice(["2pl", "3pl"]), default="3pl", show_default=True)
@click.option(
    "--frontier/--no-frontier",
    default=True,
    show_default=True,
    help="Also compute the optimal sequential frontier at the same mean length, without and with the exposure "
    "ceiling (a few minutes per draw).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def simulate(
    bank_file: Path | None,
    draws: int,
    examinees: int,
    seed: int,
    items: int,
    mean_a: float,
    model: str,
    frontier: bool,
    as_json: bool,
) -> None:
    """Run simulated officials (abilities from N(0, 1)) through the real engine with the service's
    test configuration (LMS_PLACEMENT_* settings apply) and print the placement quality, by the
    measurement protocol: several draws (new synthetic banks, or new samples on --bank), pooled,
    with 95 % confidence intervals, and beside them the optimal sequential frontier (the best
    accuracy any selection and stopping rule reaches at the same mean length on those banks, an
    upper bound) with the gaps to it: the frontier without an exposure ceiling (``frontier_*``) and
    the exposure-aware one for rules that keep the configured ceiling
    (``frontier_exposure_aware_*``, the lower of the two)."""
    from services.placement.domain.cat.protocol import draws as make_draws
    from services.placement.domain.cat.protocol import frontier_of, run
    from services.placement.domain.cat.simulate import synthetic_bank
    from services.placement.settings import get_settings

    cfg: TestConfig = get_settings().test_config()
    bank = load_bank_file(bank_file) if bank_file else None
    started = time.perf_counter()
    sample = make_draws(
        draws,
        examinees,
        seed,
        bank=bank,
        make_bank=lambda s: synthetic_bank(items, mean_a, s, len(bank_rules.DOMAINS), three_pl=model == "3pl"),
    )
    (outcome,) = run({cfg.stop_rule: cfg}, sample)
    figures = {
        "bank": str(bank_file) if bank_file else f"synthetic {model} banks of {items} items, mean a {mean_a}",
        "items": len(sample[0].bank),
        "draws": draws,
        "seed": seed,
        **outcome.figures(),
        "examinees": examinees,  # per draw
        "total_examinees": examinees * draws,
    }
    if frontier:
        bound = frontier_of(cfg, outcome, sample)
        exact, expected = float(outcome.correct.mean()), float(outcome.assigned_prob.mean())
        # the frontier without an exposure ceiling, the lower of its two bounds
        figures["frontier"] = round(bound.frontier, 4)
        figures["frontier_clairvoyant"] = round(bound.clairvoyant, 4)
        figures["frontier_path"] = round(bound.path, 4)
        figures["frontier_gap_exact"] = round(exact - bound.frontier, 4)
        figures["frontier_gap_expected"] = round(expected - bound.frontier, 4)
        # the frontier for rules that keep every item's exposure within the configured ceiling
        figures["frontier_exposure_aware"] = round(bound.exposure_frontier, 4)
        figures["frontier_exposure_aware_priced_path"] = round(bound.exposure_path, 4)
        figures["frontier_exposure_aware_gap_exact"] = round(exact - bound.exposure_frontier, 4)
        figures["frontier_exposure_aware_gap_expected"] = round(expected - bound.exposure_frontier, 4)
    figures["seconds"] = round(time.perf_counter() - started, 2)
    if as_json:
        click.echo(json.dumps(figures))
        return
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        if isinstance(value, float) and key.startswith("frontier"):
            value = f"{value:+.2%}" if "gap" in key else f"{value:.2%}"
        elif isinstance(value, float) and key.endswith(("accuracy", "rate", "ci95")) and "us" not in key:
            value = f"{value:.1%}"
        click.echo(f"{key:<{width}}  {value}")


@cli.command("synth-bank")
@click.option("--items", default=500, show_default=True, type=click.IntRange(5, 100_000))
@click.option("--mean-a", default=1.5, show_default=True, type=click.FloatRange(0.1, 5))
@click.option("--model", type=click.Choice(["2pl", "3pl"]), default="3pl", show_default=True)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def synth_bank(items: int, mean_a: float, model: str, seed: int, out: Path) -> None:
    """Write a simulated bank in the import format (a lognormal around MEAN_A, b ~ N(0, 1.2),
    c ~ U(0, 0.2) for 3PL), spread evenly over the five domains, for simulations and benchmarks."""
    from services.placement.domain.cat.simulate import synthetic_bank

    bank = synthetic_bank(items, mean_a, seed, len(bank_rules.DOMAINS), three_pl=model == "3pl")
    names = list(bank_rules.DOMAINS)
    rows = [
        {
            "code": f"SIM-{i:05d}",
            "domain": names[int(bank.domain[i])],
            "a": round(float(bank.a[i]), 4),
            "b": round(float(bank.b[i]), 4),
            "c": round(float(bank.c[i]), 4),
            "stem": {"ko": f"모의 문항 {i}", "en": f"Simulated item {i}"},
            "options": ["A", "B", "C", "D"],
            "answer": i % 4,
        }
        for i in range(items)
    ]
    out.write_text(json.dumps({"items": rows}, ensure_ascii=False))
    click.echo(f"wrote {items} {model} items (mean a {float(np.mean(bank.a)):.3f}) to {out}")
