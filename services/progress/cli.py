"""``lms progress ...``: tools for the progress service."""

from __future__ import annotations

import asyncio

import click


@click.group()
def cli() -> None:
    """Progress service tools."""


@cli.command()
@click.option("--database-url", required=True, help="A migrated, empty progress database (never real data).")
@click.option("--officials", default=1_100_000, show_default=True, type=click.IntRange(1000, 10_000_000))
@click.option("--events", default=5_000_000, show_default=True, type=click.IntRange(0, 100_000_000))
@click.option("--sessions", default=2_000, show_default=True, type=click.IntRange(0, 100_000))
def generate(database_url: str, officials: int, events: int, sessions: int) -> None:
    """Fill a database with synthetic benchmark data (officials, paths, sessions, events)."""
    from services.progress.store.benchdata import generate as run

    if sessions * 20 > officials:
        raise click.BadParameter("need at least 20 officials per session", param_hint="--sessions")
    timings = asyncio.run(run(database_url, officials=officials, events=events, sessions=sessions, say=click.echo))
    click.echo(f"done in {sum(timings.values()):.1f} s")
