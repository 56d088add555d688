"""Transactional outbox and its relay.

A service writes a message with :func:`enqueue` in the same transaction as the state change it
announces. :class:`Relay` claims due messages with ``FOR UPDATE SKIP LOCKED`` (so any number of
replicas may run it) in a short transaction that pushes their next attempt past a lease, sends
them with no transaction open, and records delivery, or the attempt, error and next try
(exponential backoff with jitter). A relay that dies mid-send leaves its messages to be retried
when the lease ends. Receivers are idempotent on a natural key, and every message
carries its id as ``Idempotency-Key``, so a redelivery after a crash is harmless.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
import structlog
from prometheus_client import Counter
from sqlalchemy import BigInteger, Index, Text, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import Field, SQLModel

from services.common.db import timestamp, utcnow, uuid7
from services.common.http import PeerClient
from services.common.worker import PollingWorker

log = structlog.get_logger()
DELIVERED = Counter("lms_outbox_delivered_total", "Outbox messages delivered", ["destination"])
FAILED = Counter("lms_outbox_attempts_failed_total", "Failed outbox delivery attempts", ["destination"])


class OutboxFields(SQLModel):
    """Columns of a service's ``outbox`` table; a service declares
    ``class Outbox(OutboxFields, Base, table=True): __tablename__ = "outbox"``."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    message_id: uuid.UUID = Field(default_factory=uuid7, unique=True)
    destination: str = Field(max_length=64)
    method: str = Field(max_length=8)
    path: str = Field(max_length=512)
    body: dict[str, Any] = Field(sa_type=JSONB)
    request_id: str = Field(default="", max_length=128)
    created_at: datetime = timestamp(now=True)
    next_attempt_at: datetime = timestamp(now=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    delivered_at: datetime | None = timestamp(default=None)
    dead_at: datetime | None = timestamp(default=None)


def outbox_indexes(table_name: str = "outbox") -> tuple[Index]:
    """The partial index the relay's claim query uses; put it in ``__table_args__``."""
    return (
        Index(
            f"ix_{table_name}_due",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND dead_at IS NULL"),
        ),
    )


def enqueue(
    session: AsyncSession,
    model: type[OutboxFields],
    destination: str,
    method: str,
    path: str,
    body: dict[str, Any],
) -> OutboxFields:
    """Add a message to ``session``; it is sent only if the surrounding transaction commits."""
    from services.common.observability import request_id_var

    row = model(destination=destination, method=method, path=path, body=body, request_id=request_id_var.get())
    session.add(row)
    return row


INSERT_OUTBOX = (
    "INSERT INTO outbox (message_id, destination, method, path, body, request_id, created_at, next_attempt_at, "
    "attempts) VALUES ($1, $2, $3, $4, $5::jsonb, $6, now(), now(), 0)"
)


async def enqueue_raw(conn: Any, destination: str, method: str, path: str, body: dict[str, Any]) -> uuid.UUID:
    """:func:`enqueue` for a raw asyncpg connection (inside the caller's transaction): one row in
    the service's ``outbox`` table, sent only if that transaction commits. Returns the message id."""
    from services.common.observability import request_id_var

    message_id = uuid7()
    payload = msgspec.json.encode(body).decode()
    await conn.execute(INSERT_OUTBOX, message_id, destination, method, path, payload, request_id_var.get() or "")
    return message_id


class PermanentFailure(Exception):
    """The receiver rejected the message for good (for example 400 or 422): park it as dead."""


Sender = Callable[[Any], Awaitable[None]]
PERMANENT_STATUSES = {400, 405, 409, 410, 413, 415, 422}


def peer_sender(
    peers: dict[str, PeerClient],
    on_success: Callable[[Any, httpx.Response], Awaitable[None]] | None = None,
) -> Sender:
    """Send a row to the peer named by its ``destination``; raise on anything but 2xx. After a
    2xx, ``on_success(row, response)`` may record the peer's answer (idempotently: a redelivery
    after a crash calls it again)."""

    async def send(row: Any) -> None:
        client = peers.get(row.destination)
        if client is None:
            raise PermanentFailure(f"no peer named {row.destination!r} is configured")
        response = await client.request(
            row.method,
            row.path,
            json=row.body,
            headers={"Idempotency-Key": str(row.message_id)},
            request_id=row.request_id or str(row.message_id),
            retries=0,
        )
        if response.is_success:
            if on_success is not None:
                await on_success(row, response)
            return
        message = f"HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code in PERMANENT_STATUSES:
            raise PermanentFailure(message)
        raise httpx.HTTPStatusError(message, request=response.request, response=response)

    return send


class Relay(PollingWorker):
    """The outbox's polling worker (see :class:`services.common.worker.PollingWorker` for the loop)."""

    def __init__(
        self,
        engine: AsyncEngine,
        model: type[OutboxFields],
        sender: Sender,
        *,
        batch: int = 50,
        poll_seconds: float = 1.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        concurrency: int = 10,
        lease_seconds: float = 60.0,
    ) -> None:
        super().__init__("outbox_relay", poll_seconds=poll_seconds, batch=batch)
        self.engine, self.table, self.sender = engine, model.__table__, sender  # type: ignore[attr-defined]
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.lease = timedelta(seconds=lease_seconds)
        self._limit = asyncio.Semaphore(concurrency)

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: exponential, capped, with full jitter above half."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(attempts - 1, 30))
        return ceiling * random.uniform(0.5, 1.0)

    async def _attempt(self, row: Any) -> dict[str, Any]:
        async with self._limit:
            try:
                await self.sender(row)
            except PermanentFailure as exc:
                FAILED.labels(row.destination).inc()
                log.error("outbox_dead", message_id=str(row.message_id), error=str(exc))
                return {"attempts": row.attempts + 1, "last_error": str(exc)[:2000], "dead_at": utcnow()}
            except Exception as exc:
                FAILED.labels(row.destination).inc()
                wait = self.backoff(row.attempts + 1)
                log.warning("outbox_retry", message_id=str(row.message_id), error=str(exc)[:300], retry_in=wait)
                return {
                    "attempts": row.attempts + 1,
                    "last_error": f"{type(exc).__name__}: {exc}"[:2000],
                    "next_attempt_at": utcnow() + timedelta(seconds=wait),
                }
            DELIVERED.labels(row.destination).inc()
            return {"attempts": row.attempts + 1, "delivered_at": utcnow(), "last_error": None}

    async def run_once(self) -> int:
        """Claim one batch of due messages, send them, record the outcome. Returns how many."""
        t = self.table
        due = (
            select(t.c.id)
            .where(t.c.delivered_at.is_(None), t.c.dead_at.is_(None), t.c.next_attempt_at <= func.now())
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        async with self.engine.begin() as conn:
            claim = update(t).where(t.c.id.in_(due.scalar_subquery())).values(next_attempt_at=func.now() + self.lease)
            rows = (await conn.execute(claim.returning(*t.c))).all()
        if not rows:
            return 0
        outcomes = await asyncio.gather(*(self._attempt(r) for r in rows))
        async with self.engine.begin() as conn:
            for row, values in zip(rows, outcomes, strict=True):
                await conn.execute(update(t).where(t.c.id == row.id).values(**values))
        return len(rows)


async def pending_count(session: AsyncSession, model: type[OutboxFields]) -> int:
    t = model.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        select(func.count()).select_from(t).where(t.c.delivered_at.is_(None), t.c.dead_at.is_(None))
    )
    return int(result.scalar_one())


__all__ = ["OutboxFields", "PermanentFailure", "Relay", "enqueue", "enqueue_raw", "outbox_indexes", "peer_sender"]
