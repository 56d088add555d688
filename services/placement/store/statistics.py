"""Exposure and usage statistics of one bank version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.errors import not_found
from services.placement.models import BankVersion, VersionItem

ANSWERED_PER_ITEM = text(
    "SELECT idx, count(*) AS n, count(*) FILTER (WHERE correct) AS right "
    "FROM response WHERE version_id = :v GROUP BY idx"
)
LENGTHS = text("SELECT length, count(*) FROM result WHERE version_id = :v GROUP BY length ORDER BY length")
LEVELS = text("SELECT level, count(*) FROM result WHERE version_id = :v GROUP BY level ORDER BY level")


@dataclass
class VersionStats:
    version: BankVersion
    items: list[VersionItem]
    answered: dict[int, tuple[int, int]]  # idx -> (answers, right)
    lengths: list[tuple[int, int]]
    levels: list[tuple[int, int]]


async def version_stats(session: AsyncSession, version: int | None) -> VersionStats:
    """The facts behind the statistics of one version (default: the active one)."""
    query: Any = (
        select(BankVersion).where(col(BankVersion.id) == version)
        if version
        else select(BankVersion).where(col(BankVersion.active))
    )
    bank_version = (await session.execute(query)).scalar_one_or_none()
    if bank_version is None:
        raise not_found("bank version", version or "active")
    vid = bank_version.id
    answered = {r.idx: (r.n, r.right) for r in (await session.execute(ANSWERED_PER_ITEM, {"v": vid})).all()}
    items_query = select(VersionItem).where(col(VersionItem.version_id) == vid).order_by(col(VersionItem.idx))
    items = list((await session.execute(items_query)).scalars())
    lengths = [(int(v), int(c)) for v, c in (await session.execute(LENGTHS, {"v": vid})).all()]
    levels = [(int(v), int(c)) for v, c in (await session.execute(LEVELS, {"v": vid})).all()]
    return VersionStats(bank_version, items, answered, lengths, levels)
