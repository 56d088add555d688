"""What an operator needs about messages the relay could not deliver: a list of dead and
long-retrying outbox messages, a resend, and Prometheus gauges of both.

:func:`build_app` adds these routes (admin only) to every service that has an outbox:
``GET /v1/admin/outbox?state=dead|retrying`` and ``POST /v1/admin/outbox/{message_id}/resend``.
A message is *retrying* once it has failed ``RETRYING_AFTER_ATTEMPTS`` times without being
delivered or parked as dead."""

from __future__ import annotations

import enum
import time
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, Parameter, QueryParameter
from prometheus_client import Gauge
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.auth import allow
from services.common.errors import Problem
from services.common.outbox import OutboxFields

RETRYING_AFTER_ATTEMPTS = 5
GAUGE_SECONDS = 30.0  # the gauges are recounted at most this often (on a scrape)
DEAD = Gauge("lms_outbox_dead_messages", "Outbox messages parked as dead (need an operator)", ["destination"])
RETRYING = Gauge(
    "lms_outbox_retrying_messages",
    f"Undelivered outbox messages that failed at least {RETRYING_AFTER_ATTEMPTS} times",
    ["destination"],
)


class MessageState(enum.StrEnum):
    dead = "dead"  # parked after a permanent refusal: resend once the cause is fixed
    retrying = "retrying"  # undelivered after RETRYING_AFTER_ATTEMPTS failures, still retried
    pending = "pending"  # undelivered, not (yet) failing often


class OutboxMessageOut(msgspec.Struct):
    message_id: uuid.UUID
    state: MessageState
    destination: str
    method: str
    path: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    dead_at: datetime | None


class OutboxPage(msgspec.Struct):
    items: list[OutboxMessageOut]
    next_cursor: str | None


def _table(model: type[OutboxFields]) -> Any:
    return model.__table__  # type: ignore[attr-defined]


def _state_filter(t: Any, state: MessageState) -> list[Any]:
    if state is MessageState.dead:
        return [t.c.delivered_at.is_(None), t.c.dead_at.is_not(None)]
    if state is MessageState.retrying:
        return [t.c.delivered_at.is_(None), t.c.dead_at.is_(None), t.c.attempts >= RETRYING_AFTER_ATTEMPTS]
    return [t.c.delivered_at.is_(None), t.c.dead_at.is_(None)]


def _out(row: Any) -> OutboxMessageOut:
    return OutboxMessageOut(
        message_id=row.message_id,
        state=MessageState.dead
        if row.dead_at is not None
        else MessageState.retrying
        if row.attempts >= RETRYING_AFTER_ATTEMPTS
        else MessageState.pending,
        destination=row.destination,
        method=row.method,
        path=row.path,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        dead_at=row.dead_at,
    )


async def stuck_messages(
    engine: AsyncEngine, model: type[OutboxFields], state: MessageState, limit: int, after: int
) -> tuple[Any, int | None]:
    """One page of dead or long-retrying messages, oldest first, after row id ``after``."""
    t = _table(model)
    query = select(t).where(*_state_filter(t, state), t.c.id > after).order_by(t.c.id).limit(limit + 1)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


async def resend(engine: AsyncEngine, model: type[OutboxFields], message_id: uuid.UUID) -> Any | None:
    """Make an undelivered message due now with a fresh attempt count (dead or not); None if there
    is no such undelivered message."""
    t = _table(model)
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                update(t)
                .where(t.c.message_id == message_id, t.c.delivered_at.is_(None))
                .values(dead_at=None, attempts=0, next_attempt_at=func.now())
                .returning(*t.c)
            )
        ).first()
    return row


async def count_stuck(engine: AsyncEngine, model: type[OutboxFields]) -> dict[MessageState, dict[str, int]]:
    t = _table(model)
    counts: dict[MessageState, dict[str, int]] = {}
    async with engine.connect() as conn:
        for state in (MessageState.dead, MessageState.retrying):
            query = select(t.c.destination, func.count()).where(*_state_filter(t, state)).group_by(t.c.destination)
            counts[state] = {d: int(n) for d, n in (await conn.execute(query)).all()}
    return counts


def gauge_refresher(model: type[OutboxFields]) -> Any:
    """An async callable that recounts the gauges, at most every ``GAUGE_SECONDS``."""
    last = -1e9

    async def refresh(engine: AsyncEngine) -> None:
        nonlocal last
        if time.monotonic() - last < GAUGE_SECONDS:
            return
        last = time.monotonic()
        counts = await count_stuck(engine, model)
        for state, gauge in ((MessageState.dead, DEAD), (MessageState.retrying, RETRYING)):
            gauge.clear()
            for destination, n in counts[state].items():
                gauge.labels(destination).set(n)

    return refresh


def _cursor(value: str | None) -> int:
    if not value:
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise Problem(400, "invalid-cursor", "cursor must be a next_cursor value from a previous page.")
    return int(value)


def outbox_admin_controller(model: type[OutboxFields]) -> type[Controller]:
    class OutboxAdmin(Controller):
        path = "/v1/admin/outbox"
        tags = ["outbox"]
        opt = allow("admin")

        @get("/")
        async def list_stuck(
            self,
            request: Request[Any, Any, Any],
            kind: Annotated[MessageState, QueryParameter(name="state")] = MessageState.dead,
            limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
            cursor: Annotated[str | None, Parameter(max_length=18)] = None,
        ) -> OutboxPage:
            """Undelivered messages to peers: dead (parked after a permanent refusal), retrying after
            many failures, or all pending; oldest first, each with its last error."""
            rows, last = await stuck_messages(request.app.state.engine, model, kind, limit, _cursor(cursor))
            return OutboxPage(items=[_out(r) for r in rows], next_cursor=str(last) if last is not None else None)

        @post("/{message_id:uuid}/resend", status_code=200)
        async def resend_message(
            self, request: Request[Any, Any, Any], message_id: FromPath[uuid.UUID]
        ) -> OutboxMessageOut:
            """Send an undelivered message again now (after fixing its cause), with a fresh retry budget."""
            row = await resend(request.app.state.engine, model, message_id)
            if row is None:
                raise Problem(404, "not-found", f"No undelivered outbox message {message_id}.")
            relay = getattr(request.app.state, "relay", None)
            if relay is not None:
                relay.wake()
            return _out(row)

    return OutboxAdmin
