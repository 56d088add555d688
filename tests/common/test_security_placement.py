"""Placement: the answer that ends a diagnostic, sent several times at once, is answered with the
one stored reply every time (never 409), and the test completes once."""

from __future__ import annotations

import asyncio

import asyncpg

from services.common.db import plain_url
from tests.placement.conftest import learner, load_bank, make_app
from tests.support import Keys, client_for

SERVICE = "placement"


async def test_the_final_answer_sent_twice_at_once_returns_the_stored_reply(database_url: str, keys: Keys) -> None:
    async with client_for(make_app(database_url, min_items=1, max_items=1)) as client:
        bank = await load_bank(client, keys)
        for n in range(12):
            me = learner(keys, f"twice-{n}")
            session = (await client.post("/v1/sessions", headers=me)).json()
            item = session["current_item"]
            body = {"position": 1, "item_id": item["item_id"], "choice": bank.answer[item["item_id"]]}
            replies = await asyncio.gather(
                *(client.post(f"/v1/sessions/{session['id']}/answers", json=body, headers=me) for _ in range(4))
            )
            assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies if r.status_code != 200]
            assert len({r.content for r in replies}) == 1
            assert replies[0].json()["status"] == "completed"
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        assert await conn.fetchval("SELECT count(*) FROM result") == 12
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 12
    finally:
        await conn.close()
