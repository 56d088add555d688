"""Webhook subscriptions and deliveries: what the hr API changes and what the delivery worker
claims and records.

Order: a delivery is claimed only when no earlier change of the same certificate is still
undelivered to the same subscription (``change_seq`` is the feed's sequence, causal per
certificate), so a receiver sees each certificate's changes in the order they happened, even
across retries, outages and several worker replicas. Deliveries are queued for disabled
subscriptions too and wait; enabling a subscription again releases them, in order."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import utcnow, uuid7

SUBSCRIBE = text(
    "INSERT INTO webhook_subscription (id, owner, url, event_types, secret, enabled, created_at, updated_at)"
    " VALUES (:id, :owner, :url, CAST(:events AS jsonb), :secret, true, :now, :now)"
    " ON CONFLICT (owner, url) DO NOTHING RETURNING *"
)
BY_OWNER_URL = text("SELECT * FROM webhook_subscription WHERE owner = :owner AND url = :url")
OWN = text("SELECT * FROM webhook_subscription WHERE id = :id AND owner = :owner")
OWNED = text("SELECT * FROM webhook_subscription WHERE owner = :owner ORDER BY created_at")
UPDATE = text(
    "UPDATE webhook_subscription SET url = coalesce(:url, url),"
    " event_types = coalesce(CAST(:events AS jsonb), event_types), updated_at = :now"
    " WHERE id = :id RETURNING *"
)
ENABLE = text(
    "UPDATE webhook_subscription SET enabled = true, disabled_reason = NULL, disabled_at = NULL, updated_at = :now"
    " WHERE id = :id RETURNING *"
)
DISABLE_BY_OWNER = text(
    "UPDATE webhook_subscription SET enabled = false, disabled_reason = 'Disabled by the subscriber.',"
    " disabled_at = :now, updated_at = :now WHERE id = :id RETURNING *"
)
# Re-enabling releases everything not yet delivered (also what failed at the horizon), with a
# fresh retry horizon; the claim's order rule sends it oldest change first.
RELEASE_UNDELIVERED = text(
    "UPDATE webhook_delivery SET failed_at = NULL, retry_from = :now, next_attempt_at = :now"
    " WHERE subscription_id = :id AND delivered_at IS NULL"
)
DELETE = text("DELETE FROM webhook_subscription WHERE id = :id")
DELIVERIES = text(
    "SELECT * FROM webhook_delivery WHERE subscription_id = :id ORDER BY created_at DESC, change_seq DESC LIMIT :n"
)
REDELIVER = text(
    "UPDATE webhook_delivery SET delivered_at = NULL, failed_at = NULL, next_attempt_at = :now,"
    " retry_from = :now WHERE id = :id AND subscription_id = :sub RETURNING *"
)

# Claim due deliveries in a short transaction by pushing their next attempt past a lease, so no
# transaction (and no row lock) stays open while we wait for receivers; another replica takes a
# delivery over only if this one died before recording the outcome. A delivery waits while an
# earlier change of its certificate is undelivered to the same subscription.
CLAIM = text(
    "WITH due AS ("
    " SELECT d.id FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id"
    " WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= now() AND s.enabled"
    " AND NOT EXISTS (SELECT 1 FROM webhook_delivery e WHERE e.subscription_id = d.subscription_id"
    " AND e.certificate_id = d.certificate_id AND e.change_seq < d.change_seq AND e.delivered_at IS NULL)"
    " ORDER BY d.next_attempt_at, d.change_seq LIMIT :batch FOR UPDATE OF d SKIP LOCKED)"
    " UPDATE webhook_delivery d SET next_attempt_at = now() + make_interval(secs => :lease)"
    " FROM due, webhook_subscription s"
    " WHERE d.id = due.id AND s.id = d.subscription_id"
    " RETURNING d.id, d.subscription_id, d.event, d.payload, d.attempts, d.retry_from, d.created_at, s.url, s.secret"
)
DELIVERED = text(
    "UPDATE webhook_delivery SET attempts = :a, last_status = :st, last_error = NULL, delivered_at = :now"
    " WHERE id = :id"
)
RETRY_LATER = text(
    "UPDATE webhook_delivery SET attempts = :a, last_status = :st, last_error = :err, next_attempt_at = :next"
    " WHERE id = :id"
)
GIVE_UP = text(
    "UPDATE webhook_delivery SET attempts = :a, last_status = :st, last_error = :err, failed_at = :now WHERE id = :id"
)
DISABLE_FAILING = text(
    "UPDATE webhook_subscription SET enabled = false, disabled_reason = :r, disabled_at = :now, updated_at = :now"
    " WHERE id = :id AND enabled"
)


async def subscribe(
    session: AsyncSession, owner: str, url: str, events: list[str], sealed_secret: str
) -> tuple[Row[Any], bool]:
    """(subscription, created): the same owner subscribing the same URL again gets the existing one."""
    params = {
        "id": uuid7(),
        "owner": owner,
        "url": url,
        "events": json.dumps(events),
        "secret": sealed_secret,
        "now": utcnow(),
    }
    row = (await session.execute(SUBSCRIBE, params)).first()
    if row is not None:
        return row, True
    return (await session.execute(BY_OWNER_URL, {"owner": owner, "url": url})).one(), False


async def own(session: AsyncSession, owner: str, sub_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(OWN, {"id": sub_id, "owner": owner})).first()


async def owned(session: AsyncSession, owner: str) -> list[Row[Any]]:
    return list((await session.execute(OWNED, {"owner": owner})).all())


async def update(
    session: AsyncSession, sub_id: uuid.UUID, url: str | None, events: list[str] | None, enabled: bool | None
) -> Row[Any]:
    now = utcnow()
    params = {"id": sub_id, "now": now, "url": url, "events": json.dumps(events) if events is not None else None}
    row = (await session.execute(UPDATE, params)).one()
    if enabled is True:
        await session.execute(RELEASE_UNDELIVERED, {"id": sub_id, "now": now})
        row = (await session.execute(ENABLE, {"id": sub_id, "now": now})).one()
    elif enabled is False:
        row = (await session.execute(DISABLE_BY_OWNER, {"id": sub_id, "now": now})).one()
    return row


async def delete(session: AsyncSession, sub_id: uuid.UUID) -> None:
    await session.execute(DELETE, {"id": sub_id})


async def deliveries(session: AsyncSession, sub_id: uuid.UUID, limit: int) -> list[Row[Any]]:
    return list((await session.execute(DELIVERIES, {"id": sub_id, "n": limit})).all())


async def redeliver(session: AsyncSession, sub_id: uuid.UUID, delivery_id: uuid.UUID) -> Row[Any] | None:
    now = utcnow()
    return (await session.execute(REDELIVER, {"id": delivery_id, "sub": sub_id, "now": now})).first()


async def claim(conn: AsyncConnection, batch: int, lease: float) -> list[Row[Any]]:
    return list((await conn.execute(CLAIM, {"batch": batch, "lease": lease})).all())


async def delivered(conn: AsyncConnection, delivery_id: uuid.UUID, attempts: int, status: int | None) -> None:
    await conn.execute(DELIVERED, {"a": attempts, "st": status, "now": utcnow(), "id": delivery_id})


async def retry_later(
    conn: AsyncConnection, delivery_id: uuid.UUID, attempts: int, status: int | None, error: str, at: datetime
) -> None:
    await conn.execute(RETRY_LATER, {"a": attempts, "st": status, "err": error, "next": at, "id": delivery_id})


async def give_up(conn: AsyncConnection, row: Any, attempts: int, status: int | None, error: str, reason: str) -> None:
    """The delivery failed past its horizon: mark it failed and disable the subscription with ``reason``."""
    now = utcnow()
    await conn.execute(GIVE_UP, {"a": attempts, "st": status, "err": error, "now": now, "id": row.id})
    await conn.execute(DISABLE_FAILING, {"r": reason[:2000], "now": now, "id": row.subscription_id})
