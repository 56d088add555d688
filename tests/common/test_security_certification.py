"""The certification key passphrase: refused when unfit outside local development; rotatable."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from click.testing import CliRunner

from services.certification import app as certification_app
from services.certification.domain import keys as keydomain
from services.certification.keyring import ensure_key
from services.certification.settings import DEV_KEY_PASSPHRASE, get_settings
from services.common.db import create_engine, plain_url

SERVICE = "certification"


@pytest.mark.parametrize("passphrase", ["", DEV_KEY_PASSPHRASE, "short"])
def test_a_deployment_refuses_a_missing_development_or_short_passphrase(passphrase: str) -> None:
    settings = get_settings(database_url="postgresql://lms@db.example/certification", key_passphrase=passphrase)
    with pytest.raises(SystemExit, match="LMS_CERTIFICATION_KEY_PASSPHRASE"):
        certification_app.create_app(settings)


def test_local_development_may_use_the_development_passphrase() -> None:
    settings = get_settings(database_url="", key_passphrase=DEV_KEY_PASSPHRASE)
    assert certification_app.create_app(settings) is not None
    settings = get_settings(database_url="postgresql://lms@db.example/c", key_passphrase="a-real-secret-of-length")
    assert certification_app.create_app(settings) is not None


async def test_rekey_reencrypts_keys_and_webhook_secrets(database_url: str, monkeypatch) -> None:
    old, new = "the-old-passphrase-123", "the-new-passphrase-456"
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        kid = await ensure_key(engine, old)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        await conn.execute(
            "INSERT INTO webhook_subscription (id, owner, url, event_types, secret, enabled, created_at, updated_at)"
            " VALUES ($1, 'hr', 'https://hr.example/hook', '[]', $2, true, now(), now())",
            uuid.uuid4(),
            keydomain.seal("whsec_abc", old),
        )
    finally:
        await conn.close()
    from services.certification.cli import cli

    monkeypatch.setenv("LMS_CERTIFICATION_DATABASE_URL", database_url)
    monkeypatch.setenv("LMS_CERTIFICATION_KEY_PASSPHRASE", "not-the-current-one-at-all")
    refused = await asyncio.to_thread(
        CliRunner().invoke, cli, ["rekey"], env={"LMS_CERTIFICATION_NEW_KEY_PASSPHRASE": new}
    )
    assert refused.exit_code != 0 and "cannot decrypt" in refused.output
    monkeypatch.setenv("LMS_CERTIFICATION_KEY_PASSPHRASE", old)
    done = await asyncio.to_thread(
        CliRunner().invoke, cli, ["rekey"], env={"LMS_CERTIFICATION_NEW_KEY_PASSPHRASE": new}
    )
    assert done.exit_code == 0, done.output
    assert "1 signing keys and 1 webhook secrets" in done.output
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        pem = await conn.fetchval("SELECT private_pkcs8 FROM signing_key WHERE kid = $1", kid)
        sealed = await conn.fetchval("SELECT secret FROM webhook_subscription")
    finally:
        await conn.close()
    assert keydomain.decrypt_private(pem, new) is not None
    assert keydomain.unseal(sealed, new) == "whsec_abc"
    with pytest.raises(ValueError):
        keydomain.decrypt_private(pem, old)
