"""Credential-signing keys in the database (private parts encrypted), cached per process.

The newest key signs. Every key stays published in the JWKS so certificates signed before a
rotation keep verifying. Replicas pick up a rotation within ``key_cache_seconds``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.certification.domain import keys as keydomain
from services.certification.models import SigningKey
from services.common.db import utcnow

# Any constant: serialises first-key creation across replicas.
_KEY_LOCK = 0x43455254_4B455931


async def create_key(conn: AsyncConnection, passphrase: str) -> str:
    kid, jwk, pem, _ = keydomain.new_key(passphrase)
    table = SigningKey.__table__  # type: ignore[attr-defined]
    await conn.execute(insert(table).values(kid=kid, public_jwk=jwk, private_pkcs8=pem, created_at=utcnow()))
    return kid


async def ensure_key(engine: AsyncEngine, passphrase: str) -> str:
    """Create the first signing key if there is none (safe when several replicas start at once)."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
        kid = (await conn.execute(text("SELECT kid FROM signing_key ORDER BY created_at DESC LIMIT 1"))).scalar()
        if kid is None:
            kid = await create_key(conn, passphrase)
        return str(kid)


async def rotate(engine: AsyncEngine, passphrase: str) -> str:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
        return await create_key(conn, passphrase)


async def rekey(engine: AsyncEngine, old: str, new: str) -> tuple[int, int]:
    """Re-encrypt every signing key and re-seal every webhook secret from passphrase ``old`` to
    ``new``, in one transaction (all or nothing). Returns (keys, secrets) re-encrypted."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
        keys = (await conn.execute(text(SELECT_KEYS_FOR_REKEY))).all()
        for row in keys:
            pem = await asyncio.to_thread(_reencrypt, row.private_pkcs8, old, new)
            await conn.execute(text(UPDATE_KEY), {"kid": row.kid, "pem": pem})
        secrets = (await conn.execute(text(SELECT_SECRETS_FOR_REKEY))).all()
        for row in secrets:
            sealed = keydomain.seal(keydomain.unseal(row.secret, old), new)
            await conn.execute(text(UPDATE_SECRET), {"id": row.id, "secret": sealed})
    return len(keys), len(secrets)


def _reencrypt(pem: str, old: str, new: str) -> str:
    return keydomain.encrypt_private(keydomain.decrypt_private(pem, old), new)


SELECT_KEYS_FOR_REKEY = "SELECT kid, private_pkcs8 FROM signing_key ORDER BY created_at FOR UPDATE"
UPDATE_KEY = "UPDATE signing_key SET private_pkcs8 = :pem WHERE kid = :kid"
SELECT_SECRETS_FOR_REKEY = "SELECT id, secret FROM webhook_subscription ORDER BY id FOR UPDATE"
UPDATE_SECRET = "UPDATE webhook_subscription SET secret = :secret WHERE id = :id"  # noqa: S105


class KeyRing:
    def __init__(self, engine: AsyncEngine, passphrase: str, cache_seconds: float = 10.0) -> None:
        self.engine, self.passphrase, self.cache_seconds = engine, passphrase, cache_seconds
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._signing: tuple[str, float] | None = None
        self._public: dict[str, Ed25519PublicKey] = {}
        self._jwks: list[dict[str, Any]] = []
        self._public_at = -1e9
        self._lock = asyncio.Lock()

    async def signer(self) -> tuple[str, Ed25519PrivateKey]:
        """The current signing key (newest), looked up again after ``cache_seconds``."""
        now = time.monotonic()
        if self._signing is None or now - self._signing[1] > self.cache_seconds:
            async with self._lock:
                if self._signing is None or time.monotonic() - self._signing[1] > self.cache_seconds:
                    async with self.engine.connect() as conn:
                        row = (
                            await conn.execute(
                                text("SELECT kid, private_pkcs8 FROM signing_key ORDER BY created_at DESC LIMIT 1")
                            )
                        ).first()
                    if row is None:
                        raise RuntimeError("no signing key: the service creates one at startup")
                    if row.kid not in self._private:
                        self._private[row.kid] = await asyncio.to_thread(
                            keydomain.decrypt_private, row.private_pkcs8, self.passphrase
                        )
                    self._signing = (row.kid, time.monotonic())
        kid = self._signing[0]
        return kid, self._private[kid]

    async def _load_public(self) -> None:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT kid, public_jwk FROM signing_key ORDER BY created_at"))).all()
        self._jwks = [dict(r.public_jwk) for r in rows]
        self._public = {r.kid: keydomain.public_key_from_jwk(r.public_jwk) for r in rows}
        self._public_at = time.monotonic()

    async def public_keys(self, want: str | None = None) -> dict[str, Ed25519PublicKey]:
        """All published keys; reloaded after ``cache_seconds``, or at once for an unknown ``want``
        kid (at most once a second, so garbage kids cannot hammer the database)."""
        age = time.monotonic() - self._public_at
        if age > self.cache_seconds or (want is not None and want not in self._public and age > 1.0):
            await self._load_public()
        return self._public

    async def jwks(self) -> list[dict[str, Any]]:
        if time.monotonic() - self._public_at > min(self.cache_seconds, 5.0):
            await self._load_public()
        return self._jwks

    def invalidate(self) -> None:
        self._signing = None
        self._public_at = -1e9
