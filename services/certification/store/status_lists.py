"""Signed status-list credentials, served from an in-process cache that is checked against the
list's version counter in the database (one indexed read at most every
``status_list_recheck_seconds``), so every replica serves a fresh list right after a change
committed anywhere.

Three purposes per list: ``message`` (2 bits per certificate: active, revoked, suspended,
superseded; what credentials carry now) and the one-bit ``revocation`` and ``suspension`` lists
that credentials issued before carry. The credential's ``validFrom`` is the time of the list's
last change, so the same version signs to the same bytes on every replica and after a restart;
the ETag is derived from those bytes."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.certification.domain import credential as vc
from services.certification.domain import statuslist
from services.certification.settings import Settings
from services.certification.store.keys import KeyRing

# Which certificate statuses set the bit in each one-bit list. A superseded (re-issued)
# certificate is no longer valid, so it is marked in the revocation list too.
BITS_FOR = {"revocation": ("revoked", "superseded"), "suspension": ("suspended",)}

VERSION = text("SELECT version, updated_at FROM status_list WHERE id = :id")
VERSION_FAST = "SELECT version FROM status_list WHERE id = $1"  # asyncpg read pool
NOT_ACTIVE = text("SELECT status_index, status FROM certificate WHERE status_list = :id AND status <> 'active'")
LIST_USED = text("SELECT min(created_at) FROM certificate WHERE status_list = :id")


@dataclass
class Entry:
    version: int
    etag: str
    body: str
    checked_at: float = 0.0


def encoded_list(purpose: str, rows: list[Any]) -> str:
    if purpose == statuslist.MESSAGE:
        return statuslist.encode_states((r.status_index, statuslist.STATUS_VALUES[r.status]) for r in rows)
    return statuslist.encode(r.status_index for r in rows if r.status in BITS_FOR[purpose])


class StatusListCache:
    def __init__(self, engine: AsyncEngine, keyring: KeyRing, settings: Settings, reads: Any = None) -> None:
        self.engine, self.keyring, self.settings, self.reads = engine, keyring, settings, reads
        self._entries: dict[tuple[int, str], Entry] = {}
        self.hits = 0
        self.builds = 0

    def invalidate(self, list_no: int) -> None:
        """Forget a list at once (this replica just changed it)."""
        for purpose in statuslist.PURPOSES:
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
        if self.reads is not None and cached is not None:  # one round trip on the read pool
            version = await self.reads.fetchval(VERSION_FAST, list_no)
            if cached.version == int(version or 0):
                self.hits += 1
                cached.checked_at = now
                return cached
        async with self.engine.connect() as conn:
            row = (await conn.execute(VERSION, {"id": list_no})).first()
            version = int(row.version) if row is not None else 0
            if cached is not None and cached.version == version:
                self.hits += 1
                cached.checked_at = now
                return cached
            # Read the bits after the version: the content is at least as new as the version it is
            # cached under, so a later bump always triggers a rebuild.
            rows = list((await conn.execute(NOT_ACTIVE, {"id": list_no})).all())
            changed_at: datetime | None = row.updated_at if row is not None else None
            if changed_at is None:
                changed_at = (await conn.execute(LIST_USED, {"id": list_no})).scalar()
                if changed_at is None:
                    return None
        url = vc.status_list_url(self.settings.public_url, list_no, purpose)
        credential = vc.status_list_credential(
            url=url,
            purpose=purpose,
            encoded_list=encoded_list(purpose, rows),
            issuer_url=self.settings.issuer_url,
            valid_from=changed_at.replace(microsecond=0),
        )
        kid, key = await self.keyring.signer()
        body = vc.sign_status_list(credential, key, vc.key_url(self.settings.public_url, kid))
        etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
        entry = Entry(version, etag, body, now)
        self._entries[(list_no, purpose)] = entry
        self.builds += 1
        return entry
