"""The Idempotency-Key helper over real HTTP and a real database: a retry replays the first answer,
a reused key for another request is a 422, a too-long key a 400, concurrent twins write once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Response, post

from services.common import idempotency
from services.common.auth import Principal, allow
from services.common.db import plain_url
from services.common.errors import Problem
from services.common.idempotency import IdempotencyKey
from tests.support import Keys, client_for, kernel_app

SERVICE = "progress"  # its migrations create the idempotency_record table


class NoteIn(msgspec.Struct):
    text: str


class NoteOut(msgspec.Struct):
    id: int
    text: str


@post("/notes", opt=allow("admin"), status_code=201)
async def create_note(
    conn: asyncpg.Connection, principal: Principal, data: NoteIn, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    """Create a note; a retry with the same key returns the first answer."""
    digest = idempotency.request_hash(data)
    async with conn.transaction():
        earlier = await idempotency.replay(conn, principal, idempotency_key, "POST /notes", digest)
        if earlier is not None:
            return earlier
        await asyncio.sleep(0.05)  # widen the window for concurrent twins
        n = await conn.fetchval("INSERT INTO t_note (text) VALUES ($1) RETURNING id", data.text)
        out = NoteOut(id=n, text=data.text)
        await idempotency.remember(conn, principal, idempotency_key, "POST /notes", digest, 201, out)
    return Response(out, status_code=201)


@pytest.fixture
async def client(database_url: str, keys: Keys) -> Any:
    conn = await asyncpg.connect(plain_url(database_url))
    await conn.execute("CREATE TABLE t_note (id serial PRIMARY KEY, text text NOT NULL)")
    await conn.close()
    app = kernel_app(database_url, keys, [create_note], asyncpg_pool=lambda s: 5)
    async with client_for(app) as c:
        yield c


async def notes(database_url: str) -> list[str]:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return [r["text"] for r in await conn.fetch("SELECT text FROM t_note ORDER BY id")]
    finally:
        await conn.close()


async def test_retry_replays_and_reuse_is_refused(client: Any, keys: Keys, database_url: str) -> None:
    admin = keys.headers("admin", sub="admin-1")
    first = await client.post("/notes", json={"text": "a"}, headers={**admin, "Idempotency-Key": "k1"})
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = await client.post("/notes", json={"text": "a"}, headers={**admin, "Idempotency-Key": "k1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/notes", json={"text": "b"}, headers={**admin, "Idempotency-Key": "k1"})
    assert other.status_code == 422 and other.json()["type"] == "urn:lms:problem:idempotency-key-reused"
    # the key is per caller: another admin's k1 is a new request
    mine = await client.post("/notes", json={"text": "a"}, headers={**keys.headers("admin"), "Idempotency-Key": "k1"})
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]
    # without a key every request is new
    assert (await client.post("/notes", json={"text": "a"}, headers=admin)).status_code == 201
    long = await client.post("/notes", json={"text": "c"}, headers={**admin, "Idempotency-Key": "x" * 201})
    assert long.status_code == 400 and long.json()["type"] == "urn:lms:problem:invalid-idempotency-key"
    assert long.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await notes(database_url) == ["a", "a", "a"]


async def test_concurrent_twins_write_once(client: Any, keys: Keys, database_url: str) -> None:
    headers = {**keys.headers("admin", sub="admin-2"), "Idempotency-Key": "twin"}
    replies = await asyncio.gather(*(client.post("/notes", json={"text": "t"}, headers=headers) for _ in range(6)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["id"] for r in replies}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in replies) == 5
    assert await notes(database_url) == ["t"]


def test_key_validation_and_request_hash() -> None:
    assert idempotency.idempotency_key(None) is None
    assert idempotency.idempotency_key("") is None
    assert idempotency.idempotency_key("x" * 200) == "x" * 200
    with pytest.raises(Problem):
        idempotency.idempotency_key("x" * 201)
    assert idempotency.request_hash({"b": 1, "a": [2]}) == idempotency.request_hash({"a": [2], "b": 1})
    assert idempotency.request_hash(NoteIn("a")) != idempotency.request_hash(NoteIn("b"))
