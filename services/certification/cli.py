"""`lms certification ...`: key management."""

from __future__ import annotations

import asyncio

import click

from services.certification.keyring import rotate
from services.certification.settings import get_settings
from services.common.db import create_engine, resolve_database_url


@click.group()
def cli() -> None:
    """Certification service tools."""


async def _rotate(url: str, passphrase: str) -> str:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        return await rotate(engine, passphrase)
    finally:
        await engine.dispose()


@cli.command("rotate-key")
def rotate_key() -> None:
    """Create a new Ed25519 signing key: it signs from now on (replicas switch within
    LMS_CERTIFICATION_KEY_CACHE_SECONDS); old keys stay published so old certificates verify."""
    settings = get_settings()
    url = resolve_database_url("certification", settings.database_url)
    kid = asyncio.run(_rotate(url, settings.key_passphrase))
    click.echo(f"new signing key {kid}")


@cli.command("list-keys")
def list_keys() -> None:
    """The published signing keys, oldest first (the last one signs)."""
    from sqlalchemy import text

    settings = get_settings()
    url = resolve_database_url("certification", settings.database_url)

    async def run() -> list[tuple[str, str]]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT kid, created_at FROM signing_key ORDER BY created_at"))).all()
                return [(r.kid, r.created_at.isoformat()) for r in rows]
        finally:
            await engine.dispose()

    for kid, created in asyncio.run(run()):
        click.echo(f"{created}  {kid}")
