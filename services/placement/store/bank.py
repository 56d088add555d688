"""The item bank: items (create, update, retire, import, export), published versions, and the
in-process cache of published (immutable) versions as engine arrays."""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from services.common.db import utcnow
from services.common.errors import Problem, not_found
from services.placement.domain import bank as bank_rules
from services.placement.domain.calibration import C_PRIOR
from services.placement.domain.cat.cat import Bank
from services.placement.models import BankVersion, ContentDomain, Item, VersionItem

PUBLISH_LOCK = text("SELECT pg_advisory_xact_lock(8001001)")  # one publisher at a time
LIVE_ITEMS = select(Item).where(col(Item.status) != "retired").order_by(col(Item.code))
ACTIVE_VERSION = select(BankVersion).where(col(BankVersion.active))
ACTIVE_VERSION_ID = select(col(BankVersion.id)).where(col(BankVersion.active))
ACTIVE_C_PRIOR = select(col(BankVersion.c_prior_alpha), col(BankVersion.c_prior_beta)).where(col(BankVersion.active))
DEACTIVATE_VERSIONS = update(BankVersion).where(col(BankVersion.active)).values(active=False)
VERSION_ITEMS = (
    "SELECT idx, item_id, code, domain, stem, options, answer, a, b, c, pretest "
    "FROM version_item WHERE version_id = $1 ORDER BY idx"
)
VERSION_DOMAINS = "SELECT domains, domain_specs FROM bank_version WHERE id = $1"
DOMAINS_IN_ORDER = select(ContentDomain).order_by(col(ContentDomain.position), col(ContentDomain.code))
DOMAIN_CODES = select(col(ContentDomain.code))
NEXT_POSITION = text("SELECT coalesce(max(position) + 1, 0) FROM content_domain")
EXPORT_BATCH = 500


def _item_by_code(code: str) -> Any:
    return select(Item).where(col(Item.code) == code)


async def domain_codes(session: AsyncSession) -> set[str]:
    """The codes of the bank's content areas (what items may name)."""
    return set((await session.execute(DOMAIN_CODES)).scalars())


async def list_domains(session: AsyncSession) -> list[ContentDomain]:
    return list((await session.execute(DOMAINS_IN_ORDER)).scalars())


async def get_domain(session: AsyncSession, code: str) -> ContentDomain:
    found = await session.get(ContentDomain, code)
    if found is None:
        raise not_found("domain", code)
    return found


async def put_domain(session: AsyncSession, code: str, ko: str, en: str, share: float) -> tuple[ContentDomain, bool]:
    """Define or change a content area. Returns (domain, created). Versions already published keep
    the definitions they were published with."""
    await session.execute(PUBLISH_LOCK)
    found = await session.get(ContentDomain, code, with_for_update=True)
    created = found is None
    if found is None:
        position = int((await session.execute(NEXT_POSITION)).scalar_one())
        found = ContentDomain(code=code, name_ko=ko, name_en=en, share=share, position=position)
        session.add(found)
    else:
        found.name_ko, found.name_en, found.share, found.updated_at = ko, en, share, utcnow()
    await session.commit()
    return found, created


async def create_item(session: AsyncSession, values: dict[str, Any]) -> tuple[Item, bool]:
    """Create an item (idempotent on its code). Returns (item, created); a different item under an
    existing code is a 409."""
    existing = (await session.execute(_item_by_code(values["code"]))).scalar_one_or_none()
    if existing is not None:
        if bank_rules.export_row(existing) == values:
            return existing, False
        raise Problem(409, "duplicate-code", f"An item with code {values['code']!r} exists; PATCH it instead.")
    item = Item(**values)
    session.add(item)
    await session.commit()
    return item, True


async def list_items(
    session: AsyncSession, limit: int, after: str | None, domain: str | None, status: str | None
) -> list[Item]:
    query = select(Item).order_by(col(Item.code)).limit(limit + 1)
    if after is not None:
        query = query.where(col(Item.code) > after)
    if domain:
        query = query.where(col(Item.domain) == domain)
    if status:
        query = query.where(col(Item.status) == status)
    return list((await session.execute(query)).scalars())


async def get_item(session: AsyncSession, item_id: uuid.UUID, lock: bool = False) -> Item:
    item = await session.get(Item, item_id, with_for_update=lock)
    if item is None:
        raise not_found("item", item_id)
    return item


async def update_item(session: AsyncSession, item_id: uuid.UUID, changes: dict[str, Any], validate: Any) -> Item:
    """Merge ``changes`` into the item, validate the whole item with ``validate`` and save it."""
    item = await get_item(session, item_id, lock=True)
    merged = bank_rules.export_row(item)
    merged.update({k: v for k, v in changes.items() if v is not None})
    for key, value in validate(merged).items():
        setattr(item, key, value)
    item.updated_at = utcnow()
    await session.commit()
    return item


async def retire_item(session: AsyncSession, item_id: uuid.UUID) -> Item:
    item = await get_item(session, item_id, lock=True)
    if item.status != "retired":
        item.status = "retired"
        item.updated_at = utcnow()
        await session.commit()
    return item


async def import_items(session: AsyncSession, rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Upsert validated rows by code in one transaction. Returns (created, updated, unchanged)."""
    query = select(Item).where(col(Item.code).in_([r["code"] for r in rows]))
    existing = {i.code: i for i in (await session.execute(query)).scalars()}
    created = updated = unchanged = 0
    now = utcnow()
    for row in rows:
        item = existing.get(row["code"])
        if item is None:
            session.add(Item(**row, created_at=now, updated_at=now))
            created += 1
        elif bank_rules.export_row(item) == row:
            unchanged += 1
        else:
            for key, value in row.items():
                setattr(item, key, value)
            item.updated_at = now
            updated += 1
    await session.commit()
    return created, updated, unchanged


async def export_rows(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[dict[str, Any]]:
    """Every item in code order as an import row, read in batches on a session of its own."""
    after = ""
    async with maker() as s:
        while True:
            query = select(Item).where(col(Item.code) > after).order_by(col(Item.code)).limit(EXPORT_BATCH)
            batch = list((await s.execute(query)).scalars())
            for item in batch:
                yield bank_rules.export_row(item)
            if len(batch) < EXPORT_BATCH:
                return
            after = batch[-1].code


async def active_c_prior(session: AsyncSession) -> tuple[float, float]:
    """The Beta prior on c of the active version (the default before any version)."""
    row = (await session.execute(ACTIVE_C_PRIOR)).one_or_none()
    return (float(row[0]), float(row[1])) if row is not None else C_PRIOR


async def publish(
    session: AsyncSession,
    by: str,
    note: str,
    calibrated: bool | None = None,
    c_prior: tuple[float, float] | None = None,
) -> tuple[BankVersion, bool]:
    """Publish the current non-retired items as the active version; the same content again
    re-activates the existing version instead of creating a copy. Returns (version, created).
    ``c_prior`` (the Beta prior on c for calibrating it) defaults to the active version's; it is
    part of the content, so the same items with another prior make a new version.
    The caller commits."""
    await session.execute(PUBLISH_LOCK)
    items = list((await session.execute(LIVE_ITEMS)).scalars())
    if not any(i.status == "active" for i in items):
        raise Problem(409, "empty-bank", "There are no active items to publish; import or create items first.")
    rows = [{**bank_rules.export_row(i), "id": str(i.id)} for i in items]
    prior = c_prior or await active_c_prior(session)
    # the default prior leaves the digest of the items alone (versions published before it keep theirs)
    digest = bank_rules.snapshot_hash(rows if prior == C_PRIOR else [*rows, {"c_prior": list(prior)}])
    existing = (
        await session.execute(select(BankVersion).where(col(BankVersion.content_hash) == digest))
    ).scalar_one_or_none()
    await session.execute(DEACTIVATE_VERSIONS)
    if existing is not None:
        existing.active = True
        await session.flush()
        return existing, False
    used = {i.domain for i in items}
    defined = [d for d in await list_domains(session) if d.code in used]
    specs = [{"code": d.code, "name": {"ko": d.name_ko, "en": d.name_en}, "share": d.share} for d in defined]
    version = BankVersion(
        content_hash=digest,
        note=note,
        domains=[d.code for d in defined],
        domain_specs=specs,
        c_prior_alpha=prior[0],
        c_prior_beta=prior[1],
        active=True,
        calibrated=all(i.calibrated for i in items if i.status == "active") if calibrated is None else calibrated,
        item_count=len(items),
        published_by=by,
    )
    session.add(version)
    await session.flush()
    assert version.id is not None
    for idx, item in enumerate(items):
        session.add(
            VersionItem(
                version_id=version.id,
                idx=idx,
                item_id=item.id,
                code=item.code,
                domain=item.domain,
                stem=item.stem,
                options=item.options,
                answer=item.answer,
                a=item.a,
                b=item.b,
                c=item.c,
                pretest=item.status == "pretest",
            )
        )
    await session.flush()
    return version, True


async def publish_now(
    session: AsyncSession, by: str, note: str, c_prior: tuple[float, float] | None = None
) -> tuple[BankVersion, bool]:
    """Publish and commit (the admin's publish request)."""
    version, created = await publish(session, by, note, c_prior=c_prior)
    await session.commit()
    return version, created


async def list_versions(session: AsyncSession, limit: int, after: int | None) -> list[BankVersion]:
    query = select(BankVersion).order_by(col(BankVersion.id).desc()).limit(limit + 1)
    if after is not None:
        query = query.where(col(BankVersion.id) < after)
    return list((await session.execute(query)).scalars())


async def get_version(session: AsyncSession, number: int) -> BankVersion:
    version = await session.get(BankVersion, number)
    if version is None:
        raise not_found("bank version", number)
    return version


async def active_version_id(session: AsyncSession) -> int:
    return (await session.execute(ACTIVE_VERSION_ID)).scalar_one_or_none() or 0


@dataclass(frozen=True)
class LoadedVersion:
    """A published version as the engine and the answer path need it (immutable, so cacheable)."""

    id: int
    bank: Bank
    item_ids: list[Any]
    codes: list[str]
    domains: list[str]
    stems: list[Any]
    options: list[Any]
    answers: list[int]


class VersionCache:
    """Published versions by id (an id's content never changes); least recently used evicted."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._data: OrderedDict[int, LoadedVersion] = OrderedDict()

    async def get(self, conn: Any, version_id: int) -> LoadedVersion:
        hit = self._data.get(version_id)
        if hit is not None:
            self._data.move_to_end(version_id)
            return hit
        rows = await conn.fetch(VERSION_ITEMS, version_id)
        meta = await conn.fetchrow(VERSION_DOMAINS, version_id)
        names = tuple(meta["domains"])
        specs = meta["domain_specs"]
        specs = json.loads(specs) if isinstance(specs, str) else specs
        share = {spec["code"]: float(spec["share"]) for spec in specs or []}
        index = {d: i for i, d in enumerate(names)}
        loaded = LoadedVersion(
            id=version_id,
            bank=Bank(
                np.array([r["a"] for r in rows]),
                np.array([r["b"] for r in rows]),
                np.array([r["c"] for r in rows]),
                np.array([index[r["domain"]] for r in rows], dtype=np.int64),
                names,
                np.array([r["pretest"] for r in rows], dtype=bool),
                tuple(share.get(d, 0.0) for d in names) if share else None,
            ),
            item_ids=[r["item_id"] for r in rows],
            codes=[r["code"] for r in rows],
            domains=[r["domain"] for r in rows],
            stems=[json.loads(r["stem"]) if isinstance(r["stem"], str) else r["stem"] for r in rows],
            options=[json.loads(r["options"]) if isinstance(r["options"], str) else r["options"] for r in rows],
            answers=[r["answer"] for r in rows],
        )
        self._data[version_id] = loaded
        while len(self._data) > self.size:
            self._data.popitem(last=False)
        return loaded
