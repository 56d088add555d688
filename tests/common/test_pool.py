"""The kernel's asyncpg pool: JSON(B) codec, UTC sessions, rollback on release, ``connect`` and the
``conn`` dependency of an app built by ``build_app``, and ``enqueue_raw`` for asyncpg."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import get

from services.common import db
from services.common.auth import allow
from services.common.observability import request_id_var
from services.common.outbox import enqueue_raw
from tests.support import Keys, client_for, kernel_app

SERVICE = "progress"


@pytest.fixture
async def pool(database_url: str) -> Any:
    p = await db.open_pool(database_url, max_size=2)
    yield p
    await p.close()


async def test_jsonb_is_decoded_and_taken_as_text_or_values(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await conn.fetchval('SELECT \'{"a": [1, "가"]}\'::jsonb') == {"a": [1, "가"]}
        assert await conn.fetchval("SELECT '[1, 2]'::json") == [1, 2]
        # text is already-encoded JSON (as with the SQLAlchemy engine); other values are encoded
        assert await conn.fetchval("SELECT $1::jsonb", '{"b": 2}') == {"b": 2}
        assert await conn.fetchval("SELECT $1::jsonb", {"c": [None, True]}) == {"c": [None, True]}
        assert await conn.fetchval("SELECT $1::jsonb ->> 'k'", b'{"k": "v"}') == "v"
        assert await conn.fetchval("SELECT jsonb_typeof($1::jsonb)", [1]) == "array"
        assert await conn.fetchval("SHOW timezone") == "UTC"


async def test_release_rolls_back_an_open_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS t_pool (n int)")
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("INSERT INTO t_pool VALUES (1)")
        assert conn.is_in_transaction()
    # the same connections come back clean: no transaction, the insert undone
    for _ in range(2):
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM t_pool") == 0


async def test_connect_commits_or_rolls_back(pool: asyncpg.Pool) -> None:
    app = SimpleNamespace(state=SimpleNamespace(pool=pool))
    async with db.connect(app) as conn:
        await conn.execute("CREATE TABLE t_connect (n int)")
        await conn.execute("INSERT INTO t_connect VALUES (1)")
    with pytest.raises(RuntimeError):
        async with db.connect(app) as conn:
            await conn.execute("INSERT INTO t_connect VALUES (2)")
            raise RuntimeError("boom")
    async with db.connect(app, transaction=False) as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT array_agg(n) FROM t_connect") == [1]


async def test_enqueue_raw_writes_one_outbox_row_in_the_transaction(pool: asyncpg.Pool) -> None:
    app = SimpleNamespace(state=SimpleNamespace(pool=pool))
    token = request_id_var.set("req-42")
    try:
        async with db.connect(app) as conn:
            message_id = await enqueue_raw(conn, "certification", "PUT", "/v1/x", {"a": "가", "n": [1]})
        with pytest.raises(RuntimeError):
            async with db.connect(app) as conn:
                await enqueue_raw(conn, "certification", "PUT", "/v1/y", {})
                raise RuntimeError("rolled back: no message")
    finally:
        request_id_var.reset(token)
    async with db.connect(app, transaction=False) as conn:
        rows = await conn.fetch("SELECT message_id, destination, method, path, body, request_id, attempts FROM outbox")
    assert [dict(r) for r in rows] == [
        {
            "message_id": message_id,
            "destination": "certification",
            "method": "PUT",
            "path": "/v1/x",
            "body": {"a": "가", "n": [1]},
            "request_id": "req-42",
            "attempts": 0,
        }
    ]
    assert uuid.UUID(str(message_id)).version == 7


class Row(msgspec.Struct):
    n: int
    doc: dict[str, Any]


@get("/rows", opt=allow("admin"))
async def rows(conn: asyncpg.Connection) -> list[Row]:
    """Rows read through the ``conn`` dependency."""
    return [Row(n=r["n"], doc=r["doc"]) for r in await conn.fetch("SELECT 1 AS n, '{\"x\": 1}'::jsonb AS doc")]


async def test_build_app_opens_the_pool_and_provides_conn(database_url: str, keys: Keys) -> None:
    app = kernel_app(database_url, keys, [rows], asyncpg_pool=lambda s: 3)
    async with client_for(app) as client:
        assert app.state.pool.get_max_size() == 3
        r = await client.get("/rows", headers=keys.headers("admin"))
        assert r.status_code == 200, r.text
        assert r.json() == [{"n": 1, "doc": {"x": 1}}]
    assert app.state.pool._closed


async def test_without_asyncpg_pool_the_app_has_none(database_url: str, keys: Keys) -> None:
    app = kernel_app(database_url, keys, [])
    async with client_for(app):
        assert app.state.pool is None
