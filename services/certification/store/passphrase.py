"""Changing the key passphrase: every signing key and webhook secret re-encrypted in one transaction."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.certification.domain import keys as keydomain
from services.certification.store.keys import _KEY_LOCK

LOCK_KEYS = text("SELECT pg_advisory_xact_lock(:k)")
SELECT_KEYS_FOR_REKEY = text("SELECT kid, private_pkcs8 FROM signing_key ORDER BY created_at FOR UPDATE")
UPDATE_KEY = text("UPDATE signing_key SET private_pkcs8 = :pem WHERE kid = :kid")
SELECT_SECRETS_FOR_REKEY = text("SELECT id, secret FROM webhook_subscription ORDER BY id FOR UPDATE")
UPDATE_SECRET = text("UPDATE webhook_subscription SET secret = :secret WHERE id = :id")


def _reencrypt(pem: str, old: str, new: str) -> str:
    return keydomain.encrypt_private(keydomain.decrypt_private(pem, old), new)


async def rekey(engine: AsyncEngine, old: str, new: str) -> tuple[int, int]:
    """Re-encrypt every signing key and re-seal every webhook secret from passphrase ``old`` to
    ``new``, all or nothing. Returns (keys, secrets) re-encrypted."""
    async with engine.begin() as conn:
        await conn.execute(LOCK_KEYS, {"k": _KEY_LOCK})
        keys = (await conn.execute(SELECT_KEYS_FOR_REKEY)).all()
        for row in keys:
            pem = await asyncio.to_thread(_reencrypt, row.private_pkcs8, old, new)
            await conn.execute(UPDATE_KEY, {"kid": row.kid, "pem": pem})
        secrets = (await conn.execute(SELECT_SECRETS_FOR_REKEY)).all()
        for row in secrets:
            sealed = keydomain.seal(keydomain.unseal(row.secret, old), new)
            await conn.execute(UPDATE_SECRET, {"id": row.id, "secret": sealed})
    return len(keys), len(secrets)
