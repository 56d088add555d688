"""`lms certification ...`: key management."""

from __future__ import annotations

import asyncio

import click
from cryptography.exceptions import InvalidTag

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


@cli.command("rekey")
@click.option(
    "--new-passphrase",
    envvar="LMS_CERTIFICATION_NEW_KEY_PASSPHRASE",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The new passphrase (or LMS_CERTIFICATION_NEW_KEY_PASSPHRASE; prompted when neither is given).",
)
def rekey_command(new_passphrase: str) -> None:
    """Re-encrypt the signing keys and webhook secrets from LMS_CERTIFICATION_KEY_PASSPHRASE to a new
    passphrase in one transaction; then set the new value in every replica's secret and restart them."""
    from services.certification.keyring import rekey
    from services.certification.settings import MIN_PASSPHRASE_CHARS

    if len(new_passphrase) < MIN_PASSPHRASE_CHARS:
        raise click.ClickException(f"the new passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
    settings = get_settings()
    url = resolve_database_url("certification", settings.database_url)

    async def run() -> tuple[int, int]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            return await rekey(engine, settings.key_passphrase, new_passphrase)
        finally:
            await engine.dispose()

    try:
        keys, secrets = asyncio.run(run())
    except (ValueError, InvalidTag) as exc:  # wrong current passphrase: the PEM or the seal does not open
        raise click.ClickException(f"cannot decrypt with the current passphrase: {exc}") from exc
    click.echo(f"re-encrypted {keys} signing keys and {secrets} webhook secrets; now deploy the new passphrase")


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
