"""`lms certification ...`: key management."""

from __future__ import annotations

import asyncio

import click
from cryptography.exceptions import InvalidTag

from services.certification.settings import get_settings
from services.certification.store.keys import list_keys as stored_keys
from services.certification.store.keys import rotate
from services.common.db import create_engine, resolve_database_url


@click.group()
def cli() -> None:
    """Certification service tools."""


async def _rotate(url: str, passphrase: str, alg: str) -> str:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        return await rotate(engine, passphrase, alg)
    finally:
        await engine.dispose()


@cli.command("rotate-key")
@click.option(
    "--alg", type=click.Choice(["EdDSA", "RS256"]), default=None, help="default: LMS_CERTIFICATION_SIGNING_ALG"
)
def rotate_key(alg: str | None) -> None:
    """Create a new signing key (Ed25519 for EdDSA, RSA for RS256): the newest key of the configured
    algorithm signs (replicas switch within LMS_CERTIFICATION_KEY_CACHE_SECONDS); old keys stay
    published so old certificates verify."""
    settings = get_settings()
    url = resolve_database_url("certification", settings.database_url)
    kid = asyncio.run(_rotate(url, settings.key_passphrase, alg or settings.signing_alg))
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
    from services.certification.settings import MIN_PASSPHRASE_CHARS
    from services.certification.store.passphrase import rekey

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
    """The published signing keys, oldest first (the newest of the configured algorithm signs)."""
    settings = get_settings()
    url = resolve_database_url("certification", settings.database_url)

    async def run() -> list[tuple[str, str, str]]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            return await stored_keys(engine)
        finally:
            await engine.dispose()

    for kid, alg, created in asyncio.run(run()):
        click.echo(f"{created}  {alg:<6} {kid}")
