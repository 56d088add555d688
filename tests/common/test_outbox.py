"""The outbox relay against a real HTTP receiver that is down, then up, with one or two relays."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from litestar import Litestar, Request, put
from sqlalchemy import select

from services.common.auth import KeySet, ServiceTokens, verify_token
from services.common.db import create_engine, session_factory
from services.common.http import PeerClient
from services.common.observability import request_id_var
from services.common.outbox import Relay, enqueue, peer_sender
from services.placement.models import Outbox
from tests.support import AUDIENCE, ISSUER, Keys, free_port, serve

SERVICE = "placement"


class Receiver:
    """A peer that records every delivery it accepts; ``status`` lets a test make it fail."""

    def __init__(self, keys: Keys) -> None:
        self.seen: list[dict[str, Any]] = []
        self.status = 200
        self.keyset = KeySet(str(keys.jwks_file))

        @put("/v1/sink/{key:str}", opt={"public": True})
        async def sink(key: str, request: Request[Any, Any, Any]) -> dict[str, str]:
            principal = await verify_token(
                request.headers["authorization"].split()[1], self.keyset, issuer=ISSUER, audience=AUDIENCE
            )
            self.seen.append(
                {
                    "key": key,
                    "idempotency_key": request.headers.get("idempotency-key"),
                    "request_id": request.headers.get("x-request-id"),
                    "sub": principal.sub,
                    "body": await request.json(),
                }
            )
            if self.status != 200:
                from litestar.exceptions import HTTPException

                raise HTTPException(status_code=self.status, detail="told to fail")
            return {"ok": key}

        self.app = Litestar([sink])


def make_relay(url: str, port: int, keys: Keys) -> tuple[Relay, PeerClient, Any]:
    engine = create_engine(url, pool_size=2, max_overflow=0)
    tokens = ServiceTokens(str(keys.private_file), service="placement", issuer=ISSUER, audience=AUDIENCE)
    peer = PeerClient(f"http://127.0.0.1:{port}", tokens, timeout=1.0)
    relay = Relay(
        engine,
        Outbox,
        peer_sender({"progress": peer}),
        batch=20,
        poll_seconds=0.05,
        backoff_base=0.05,
        backoff_cap=0.3,
    )
    return relay, peer, engine


async def write_messages(url: str, n: int, prefix: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    token = request_id_var.set(f"req-{prefix}")
    try:
        async with session_factory(engine)() as session:
            for i in range(n):
                enqueue(session, Outbox, "progress", "PUT", f"/v1/sink/{prefix}-{i}", {"n": i})
            await session.commit()
    finally:
        request_id_var.reset(token)
        await engine.dispose()


async def rows(url: str) -> list[Any]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    async with session_factory(engine)() as session:
        result = list((await session.execute(select(Outbox).order_by(Outbox.id))).scalars())
    await engine.dispose()
    return result


async def wait_for(predicate) -> None:
    async with asyncio.timeout(20):
        while not await predicate():
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("relays", [1, 2])
async def test_messages_written_while_receiver_down_arrive_exactly_once(database_url, keys, relays) -> None:
    port = free_port()
    receiver = Receiver(keys)
    await write_messages(database_url, 60, "a")
    started = [make_relay(database_url, port, keys) for _ in range(relays)]
    for relay, _, _ in started:
        relay.start()
    try:
        # The receiver is down: attempts are recorded with the error and a later retry time.
        async def all_attempted() -> bool:
            return all(r.attempts >= 2 and r.last_error for r in await rows(database_url))

        await wait_for(all_attempted)
        assert all(r.delivered_at is None for r in await rows(database_url))
        async with serve(receiver.app, port=port):
            await write_messages(database_url, 40, "b")  # and more arrive while it is up
            for relay, _, _ in started:
                relay.wake()

            async def all_delivered() -> bool:
                return all(r.delivered_at is not None for r in await rows(database_url))

            await wait_for(all_delivered)
            await asyncio.sleep(0.3)  # any duplicate delivery would land now
    finally:
        for relay, peer, engine in started:
            await relay.stop()
            await peer.aclose()
            await engine.dispose()
    counts = Counter(s["key"] for s in receiver.seen)
    assert len(counts) == 100 and set(counts.values()) == {1}, counts.most_common(3)
    stored = {str(r.message_id): r for r in await rows(database_url)}
    assert {s["idempotency_key"] for s in receiver.seen} == set(stored)
    assert {s["request_id"] for s in receiver.seen} == {"req-a", "req-b"}
    assert {s["sub"] for s in receiver.seen} == {"service:placement"}
    assert receiver.seen[0]["body"] == {"n": int(receiver.seen[0]["key"].split("-")[1])}


async def test_rejected_message_is_parked_and_server_errors_retry(database_url, keys) -> None:
    port = free_port()
    receiver = Receiver(keys)
    relay, peer, engine = make_relay(database_url, port, keys)
    try:
        async with serve(receiver.app, port=port):
            receiver.status = 503
            await write_messages(database_url, 1, "retry")
            assert await relay.run_once() == 1
            (row,) = await rows(database_url)
            assert row.delivered_at is None and row.dead_at is None and "503" in row.last_error
            receiver.status = 422
            await asyncio.sleep(0.35)  # past the capped backoff
            await relay.run_once()
            (row,) = await rows(database_url)
            assert row.dead_at is not None and "422" in row.last_error
            assert await relay.run_once() == 0  # a dead message is not retried
    finally:
        await peer.aclose()
        await engine.dispose()


def test_backoff_grows_and_is_capped() -> None:
    relay = Relay(None, Outbox, peer_sender({}), backoff_base=1.0, backoff_cap=60.0)  # type: ignore[arg-type]
    waits = [relay.backoff(n) for n in range(1, 12)]
    assert 0.5 <= waits[0] <= 1.0 and 2.0 <= waits[2] <= 4.0
    assert all(30.0 <= w <= 60.0 for w in waits[7:])


async def test_a_relay_that_dies_mid_send_leaves_its_messages_to_others_after_the_lease(database_url) -> None:
    await write_messages(database_url, 3, "lease")
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    stuck = asyncio.Event()

    async def hang(row: Any) -> None:
        stuck.set()
        await asyncio.sleep(3600)

    delivered: list[str] = []

    async def deliver(row: Any) -> None:
        delivered.append(row.path)

    dying = Relay(engine, Outbox, hang, lease_seconds=0.5)
    task = asyncio.create_task(dying.run_once())
    await stuck.wait()
    task.cancel()  # the process died while waiting for the receiver
    survivor = Relay(engine, Outbox, deliver, lease_seconds=0.5)
    assert await survivor.run_once() == 0  # still leased to the dead relay
    await asyncio.sleep(0.6)
    assert await survivor.run_once() == 3
    assert sorted(delivered) == [f"/v1/sink/lease-{i}" for i in range(3)]
    assert all(r.delivered_at for r in await rows(database_url))
    await engine.dispose()
