"""Raw asyncpg access through the kernel's engine pool (the service's SQL is explicit and set-based)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from litestar import Litestar

from services.common.db import plain_url, pool_options, utcnow

SEOUL = ZoneInfo("Asia/Seoul")


def today() -> date:
    """The calendar day where people are (sessions are scheduled in Asia/Seoul)."""
    return utcnow().astimezone(SEOUL).date()


def jsonb(value: Any) -> Any:
    """A JSONB column's value: the engine's connections decode JSONB already (and take it encoded
    as text); a bare asyncpg connection hands back the text."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def open_pool(app: Litestar) -> None:
    """A plain asyncpg pool on the engine's database for this service's explicit SQL: no ORM
    layer and no pre-ping round trip per checkout on the hot paths (startup hook)."""
    settings = app.state.settings
    app.state.pg = await asyncpg.create_pool(
        plain_url(app.state.engine.url),
        min_size=1,
        max_size=settings.db_pool_size + settings.db_max_overflow,
        **pool_options(settings),
    )


async def close_pool(app: Litestar) -> None:
    pool = getattr(app.state, "pg", None)
    if pool is not None:
        await pool.close()


@asynccontextmanager
async def connect(app: Litestar, *, transaction: bool = True) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A connection from the service's asyncpg pool, inside a transaction unless told otherwise.

    The transaction commits when the block exits normally and rolls back on any exception."""
    async with app.state.pg.acquire(timeout=app.state.settings.db_acquire_timeout_seconds) as conn:
        if not transaction:
            yield conn
            return
        async with conn.transaction():
            yield conn
