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

from services.common.db import utcnow

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


@asynccontextmanager
async def connect(app: Litestar, *, transaction: bool = True) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """An asyncpg connection from the engine's pool, inside a transaction unless told otherwise.

    The transaction commits when the block exits normally and rolls back on any exception."""
    async with app.state.engine.connect() as sa_conn:
        raw = await sa_conn.get_raw_connection()
        conn: asyncpg.Connection[asyncpg.Record] = raw.driver_connection
        if not transaction:
            yield conn
            return
        async with conn.transaction():
            yield conn
