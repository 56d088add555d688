"""Signed status-list credentials, served from an in-process cache that is checked against the
list's version counter in the database on every request (one indexed read), so every replica
serves a fresh list right after a revocation committed anywhere."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.certification.domain import credential as vc
from services.certification.domain import statuslist
from services.certification.keyring import KeyRing
from services.certification.settings import Settings
from services.common.db import utcnow

# Which certificate statuses set the bit in each list. A superseded (re-issued) certificate is
# no longer valid, so it is marked in the revocation list too.
BITS_FOR = {"revocation": ("revoked", "superseded"), "suspension": ("suspended",)}


@dataclass
class Entry:
    version: int
    etag: str
    body: str
    checked_at: float = 0.0


class StatusListCache:
    def __init__(self, engine: AsyncEngine, keyring: KeyRing, settings: Settings, reads: Any = None) -> None:
        self.engine, self.keyring, self.settings, self.reads = engine, keyring, settings, reads
        self._entries: dict[tuple[int, str], Entry] = {}
        self.hits = 0
        self.builds = 0

    def invalidate(self, list_no: int) -> None:
        """Forget a list at once (this replica just changed it)."""
        for purpose in BITS_FOR:
            self._entries.pop((list_no, purpose), None)

    async def get(self, list_no: int, purpose: str) -> Entry | None:
        """The current signed list, or None when no such list exists. A cached list younger than
        ``status_list_recheck_seconds`` is served without asking the database; older ones are
        checked against the version counter (one indexed read) and rebuilt only if it moved."""
        cached = self._entries.get((list_no, purpose))
        now = time.monotonic()
        if cached is not None and now - cached.checked_at < self.settings.status_list_recheck_seconds:
            self.hits += 1
            return cached
        if self.reads is not None:  # one round trip on the read pool for the hot, cached path
            version = await self.reads.fetchval("SELECT version FROM status_list WHERE id = $1", list_no)
            if cached is not None and cached.version == int(version or 0):
                self.hits += 1
                cached.checked_at = now
                return cached
        async with self.engine.connect() as conn:
            version = (
                await conn.execute(text("SELECT version FROM status_list WHERE id = :id"), {"id": list_no})
            ).scalar()
            version = int(version or 0)
            if cached is not None and cached.version == version:
                self.hits += 1
                cached.checked_at = now
                return cached
            # Read the bits after the version: the content is at least as new as the version it is
            # cached under, so a later bump always triggers a rebuild.
            rows = (
                await conn.execute(
                    text("SELECT status_index, status FROM certificate WHERE status_list = :id AND status = ANY(:s)"),
                    {"id": list_no, "s": list(BITS_FOR[purpose])},
                )
            ).all()
            if not rows and version == 0:
                exists = (
                    await conn.execute(
                        text("SELECT 1 FROM certificate WHERE status_list = :id LIMIT 1"), {"id": list_no}
                    )
                ).scalar()
                if not exists:
                    return None
        url = vc.status_list_url(self.settings.public_url, list_no, purpose)
        credential = vc.status_list_credential(
            url=url,
            purpose=purpose,
            encoded_list=statuslist.encode(r.status_index for r in rows),
            issuer_url=self.settings.issuer_url,
            valid_from=utcnow(),
        )
        kid, key = await self.keyring.signer()
        body = vc.sign_status_list(credential, key, kid)
        # The same on every replica: the bits of a version are the same everywhere.
        etag = f'"sl-{list_no}-{purpose}-v{version}"'
        entry = Entry(version, etag, body, now)
        self._entries[(list_no, purpose)] = entry
        self.builds += 1
        return entry
