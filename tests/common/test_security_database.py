"""Database unavailability is a quick 503 with Retry-After: a full pool, a statement that runs too
long, a server that refuses connections or is still starting up."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from litestar import get
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import ServiceSpec, build_app
from services.common.auth import allow
from services.common.errors import database_unavailable
from services.placement.settings import get_settings
from tests.support import Keys, client_for, free_port

SERVICE = "placement"


@get("/v1/sleep/{seconds:float}", opt=allow("admin"))
async def sleep(seconds: float, session: AsyncSession) -> dict[str, float]:
    await session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    return {"slept": seconds}


def make(database_url: str, **overrides: Any) -> Any:
    settings = get_settings(database_url=database_url, relay_enabled=False, **overrides)
    return build_app(settings, ServiceSpec("t", "t", [sleep]))


def unavailable(r: Any) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["type"] == "urn:lms:problem:database-unavailable"
    assert int(r.headers["retry-after"]) >= 1


async def test_an_exhausted_pool_is_a_503(database_url: str, keys: Keys) -> None:
    app = make(database_url, db_pool_size=1, db_max_overflow=0, db_acquire_timeout_seconds=0.3)
    async with client_for(app) as client:
        h = keys.headers("admin")
        holder = asyncio.create_task(client.get("/v1/sleep/2", headers=h))
        await asyncio.sleep(0.5)
        unavailable(await client.get("/v1/sleep/0", headers=h))
        assert (await holder).status_code == 200


async def test_a_statement_past_its_timeout_is_a_503(database_url: str, keys: Keys) -> None:
    async with client_for(make(database_url, db_statement_timeout_seconds=0.3)) as client:
        unavailable(await client.get("/v1/sleep/5", headers=keys.headers("admin")))
        assert (await client.get("/v1/sleep/0", headers=keys.headers("admin"))).status_code == 200


async def test_an_unreachable_database_is_a_503(keys: Keys) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    async with client_for(make(url, db_connect_timeout_seconds=1)) as client:
        unavailable(await client.get("/v1/sleep/0", headers=keys.headers("admin")))


@pytest.mark.parametrize(
    "cause",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    ],
)
def test_driver_errors_meaning_unavailability_are_recognised_through_sqlalchemy(cause: Exception) -> None:
    # how SQLAlchemy's asyncpg dialect wraps them: a generic DBAPIError around the adapted error
    adapted = Exception(str(cause))
    adapted.__cause__ = cause
    wrapped = DBAPIError("SELECT 1", None, adapted)  # type: ignore[arg-type]
    assert database_unavailable(wrapped)
    assert not database_unavailable(DBAPIError("SELECT 1", None, Exception("syntax error")))  # type: ignore[arg-type]
