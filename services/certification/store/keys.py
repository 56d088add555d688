"""Credential-signing keys in the database (private parts encrypted), cached per process.

There is an RS256 (RSA) and an EdDSA (Ed25519) key at least; the newest key of the configured
algorithm signs. Every key stays published in the JWKS (its ``kid`` is the URL that answers it),
so certificates signed before a rotation or a change of algorithm keep verifying. Replicas pick
up a rotation within ``key_cache_seconds``."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.certification.domain import keys as keydomain
from services.certification.domain.credential import algorithm_for as vc_alg
from services.certification.domain.credential import key_url
from services.common.db import utcnow

# Any constant: serialises key creation across replicas.
_KEY_LOCK = 0x43455254_4B455931

LOCK_KEYS = text("SELECT pg_advisory_xact_lock(:k)")
INSERT_KEY = text(
    "INSERT INTO signing_key (kid, public_jwk, private_pkcs8, created_at) VALUES (:kid, CAST(:jwk AS jsonb), :pem, :at)"
)
# The JWK's kty tells the algorithm: RSA signs RS256, OKP (Ed25519) EdDSA.
NEWEST_OF_KIND = text(
    "SELECT kid, private_pkcs8 FROM signing_key WHERE public_jwk->>'kty' = :kty ORDER BY created_at DESC LIMIT 1"
)
PUBLIC_KEYS = text("SELECT kid, public_jwk, created_at FROM signing_key ORDER BY created_at")
KTY = {"RS256": "RSA", "EdDSA": "OKP"}


async def create_key(conn: AsyncConnection, passphrase: str, alg: str = "EdDSA") -> str:
    kid, jwk, pem, _ = await asyncio.to_thread(keydomain.new_key, passphrase, alg)
    await conn.execute(INSERT_KEY, {"kid": kid, "jwk": json.dumps(jwk), "pem": pem, "at": utcnow()})
    return kid


async def ensure_keys(engine: AsyncEngine, passphrase: str) -> None:
    """Create a key of every algorithm that has none (safe when several replicas start at once)."""
    async with engine.begin() as conn:
        await conn.execute(LOCK_KEYS, {"k": _KEY_LOCK})
        for alg in keydomain.ALGORITHMS:
            if (await conn.execute(NEWEST_OF_KIND, {"kty": KTY[alg]})).first() is None:
                await create_key(conn, passphrase, alg)


async def rotate(engine: AsyncEngine, passphrase: str, alg: str = "EdDSA") -> str:
    async with engine.begin() as conn:
        await conn.execute(LOCK_KEYS, {"k": _KEY_LOCK})
        return await create_key(conn, passphrase, alg)


async def list_keys(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    """(kid, algorithm, created) of every key, oldest first."""
    async with engine.connect() as conn:
        rows = (await conn.execute(PUBLIC_KEYS)).all()
    return [(r.kid, keydomain.algorithm_of(r.public_jwk), r.created_at.isoformat()) for r in rows]


class KeyRing:
    def __init__(
        self,
        engine: AsyncEngine,
        passphrase: str,
        cache_seconds: float = 10.0,
        alg: str = "EdDSA",
        base_url: str = "",
    ) -> None:
        self.engine, self.passphrase, self.cache_seconds = engine, passphrase, cache_seconds
        self.alg, self.base_url = alg, base_url
        self._private: dict[str, keydomain.PrivateKey] = {}
        self._signing: dict[str, tuple[str, float]] = {}
        self._public: dict[str, keydomain.PublicKey] = {}
        self._jwks: list[dict[str, Any]] = []
        self._public_at = -1e9
        self._lock = asyncio.Lock()

    async def signer(self, alg: str | None = None) -> tuple[str, keydomain.PrivateKey]:
        """(thumbprint, key) of the current signing key: the newest of ``alg`` (default: the
        configured algorithm), looked up again after ``cache_seconds``."""
        alg = alg or self.alg
        cached = self._signing.get(alg)
        if cached is None or time.monotonic() - cached[1] > self.cache_seconds:
            async with self._lock:
                cached = self._signing.get(alg)
                if cached is None or time.monotonic() - cached[1] > self.cache_seconds:
                    async with self.engine.connect() as conn:
                        row = (await conn.execute(NEWEST_OF_KIND, {"kty": KTY[alg]})).first()
                    if row is None:
                        raise RuntimeError("no signing key: the service creates one at startup")
                    if row.kid not in self._private:
                        self._private[row.kid] = await asyncio.to_thread(
                            keydomain.decrypt_private, row.private_pkcs8, self.passphrase
                        )
                    cached = self._signing[alg] = (row.kid, time.monotonic())
        return cached[0], self._private[cached[0]]

    async def _load_public(self) -> None:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(PUBLIC_KEYS)).all()
        self._jwks = [{**dict(r.public_jwk), "kid": key_url(self.base_url, r.kid)} for r in rows]
        self._public = {r.kid: keydomain.public_key_from_jwk(r.public_jwk) for r in rows}
        self._public_at = time.monotonic()

    async def public_keys(self, want: str | None = None) -> dict[str, keydomain.PublicKey]:
        """All published keys by thumbprint; reloaded after ``cache_seconds``, or at once for an
        unknown ``want`` (at most once a second, so garbage kids cannot hammer the database)."""
        age = time.monotonic() - self._public_at
        if age > self.cache_seconds or (want is not None and want not in self._public and age > 1.0):
            await self._load_public()
        return self._public

    async def jwks(self) -> list[dict[str, Any]]:
        """The public JWKs, each ``kid`` the URL that answers it."""
        if time.monotonic() - self._public_at > min(self.cache_seconds, 5.0):
            await self._load_public()
        return self._jwks

    async def ed25519_keys(self) -> dict[str, keydomain.PublicKey]:
        """The EdDSA keys (those that can sign Data Integrity proofs), by thumbprint."""
        return {kid: key for kid, key in (await self.public_keys()).items() if vc_alg(key) == "EdDSA"}

    async def jwk(self, thumbprint: str) -> dict[str, Any] | None:
        for jwk in await self.jwks():
            if jwk["kid"] == key_url(self.base_url, thumbprint):
                return jwk
        if thumbprint not in self._public and time.monotonic() - self._public_at > 1.0:
            await self._load_public()
            return next((j for j in self._jwks if j["kid"] == key_url(self.base_url, thumbprint)), None)
        return None

    def invalidate(self) -> None:
        self._signing.clear()
        self._public_at = -1e9
