"""Webhook subscriptions for HR systems (role hr), their deliveries and manual redelivery."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification.api.common import parse_uuid, wake_webhooks
from services.certification.domain.keys import seal
from services.certification.domain.webhooks import EVENT_TYPES, new_secret
from services.certification.schemas import DeliveryOut, SubscriptionIn, SubscriptionOut, SubscriptionPatch
from services.certification.targets import allowed_networks, target_problem
from services.certification.worker import webhook_id
from services.common.auth import Principal, allow
from services.common.db import utcnow, uuid7
from services.common.errors import Problem

HR = [allow("hr")]
BASE = "/v1/webhooks/subscriptions"


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Problem(
            400,
            "invalid-url",
            "url must be an absolute http(s) URL, e.g. https://hr.example.go.kr/hooks/lms.",
            errors=[{"field": "url", "source": "body", "message": "not an absolute http(s) URL"}],
        )
    return url


async def _check_target(request: Request[Any, Any, Any], url: str) -> str:
    reason = await target_problem(_check_url(url), allowed_networks(request.app.state.settings))
    if reason:
        raise Problem(
            400,
            "forbidden-target",
            f"Webhooks cannot be sent there: {reason}.",
            errors=[{"field": "url", "source": "body", "message": reason}],
        )
    return url


def _check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise Problem(
            400,
            "invalid-event-type",
            f"Unknown event types {unknown}; choose from {', '.join(EVENT_TYPES)}.",
            errors=[{"field": "event_types", "source": "body", "message": f"unknown: {unknown}"}],
        )
    return sorted(set(events))


def _out(row: Any, secret: str | None = None) -> SubscriptionOut:
    return SubscriptionOut(
        id=row.id,
        url=row.url,
        event_types=list(row.event_types),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        created_at=row.created_at,
        secret=secret,
    )


async def _own(session: AsyncSession, principal: Principal, sub_id: str) -> Any:
    row = (
        await session.execute(
            text("SELECT * FROM webhook_subscription WHERE id = :id AND owner = :owner"),
            {"id": parse_uuid(sub_id, "subscription"), "owner": principal.sub},
        )
    ).first()
    if row is None:
        raise Problem(404, "not-found", f"No subscription with id {sub_id} exists, or you may not see it.")
    return row


@post(BASE, guards=HR, tags=["webhooks"])
async def subscribe(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, data: SubscriptionIn
) -> Response[SubscriptionOut]:
    """Subscribe a URL to event types. The answer carries the signing secret (``whsec_...``) once."""
    url, events = await _check_target(request, data.url), _check_events(data.event_types)
    secret = new_secret()
    sealed = seal(secret, request.app.state.settings.key_passphrase)  # never stored in plain text
    now = utcnow()
    row = (
        await session.execute(
            text(
                "INSERT INTO webhook_subscription (id, owner, url, event_types, secret, enabled, created_at,"
                " updated_at)"
                " VALUES (:id, :owner, :url, CAST(:events AS jsonb), :secret, true, :now, :now) RETURNING *"
            ),
            {
                "id": uuid7(),
                "owner": principal.sub,
                "url": url,
                "events": json.dumps(events),
                "secret": sealed,
                "now": now,
            },
        )
    ).one()
    await session.commit()
    return Response(_out(row, secret), status_code=201, headers={"Location": f"{BASE}/{row.id}"})


@get(BASE, guards=HR, tags=["webhooks"])
async def list_subscriptions(session: AsyncSession, principal: Principal) -> list[SubscriptionOut]:
    """The caller's webhook subscriptions, oldest first."""
    rows = (
        await session.execute(
            text("SELECT * FROM webhook_subscription WHERE owner = :owner ORDER BY created_at"),
            {"owner": principal.sub},
        )
    ).all()
    return [_out(r) for r in rows]


@get(BASE + "/{sub_id:str}", guards=HR, tags=["webhooks"])
async def get_subscription(session: AsyncSession, principal: Principal, sub_id: str) -> SubscriptionOut:
    """A subscription; a disabled one says why in ``disabled_reason``."""
    return _out(await _own(session, principal, sub_id))


@patch(BASE + "/{sub_id:str}", guards=HR, tags=["webhooks"])
async def update_subscription(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, sub_id: str, data: SubscriptionPatch
) -> SubscriptionOut:
    """Change the URL or event types, or re-enable (pending deliveries get a fresh retry horizon)."""
    row = await _own(session, principal, sub_id)
    values: dict[str, Any] = {"id": row.id, "now": utcnow()}
    sets = ["updated_at = :now"]
    if data.url is not None:
        values["url"] = await _check_target(request, data.url)
        sets.append("url = :url")
    if data.event_types is not None:
        values["events"] = json.dumps(_check_events(data.event_types))
        sets.append("event_types = CAST(:events AS jsonb)")
    if data.enabled is True:
        sets += ["enabled = true", "disabled_reason = NULL", "disabled_at = NULL"]
        await session.execute(
            text(
                "UPDATE webhook_delivery SET retry_from = :now, next_attempt_at = :now"
                " WHERE subscription_id = :id AND delivered_at IS NULL AND failed_at IS NULL"
            ),
            {"id": row.id, "now": values["now"]},
        )
    elif data.enabled is False:
        sets += ["enabled = false", "disabled_reason = 'Disabled by the subscriber.'", "disabled_at = :now"]
    updated = (
        await session.execute(
            text(f"UPDATE webhook_subscription SET {', '.join(sets)} WHERE id = :id RETURNING *"),  # noqa: S608
            values,
        )
    ).one()
    await session.commit()
    wake_webhooks(request)
    return _out(updated)


@delete(BASE + "/{sub_id:str}", guards=HR, tags=["webhooks"])
async def unsubscribe(session: AsyncSession, principal: Principal, sub_id: str) -> None:
    """Delete a webhook subscription."""
    row = await _own(session, principal, sub_id)
    await session.execute(text("DELETE FROM webhook_subscription WHERE id = :id"), {"id": row.id})
    await session.commit()


def _delivery(r: Any) -> DeliveryOut:
    return DeliveryOut(
        id=r.id,
        webhook_id=webhook_id(r.id),
        event=r.event,
        payload=r.payload,
        created_at=r.created_at,
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        last_status=r.last_status,
        last_error=r.last_error,
        delivered_at=r.delivered_at,
        failed_at=r.failed_at,
    )


@get(BASE + "/{sub_id:str}/deliveries", guards=HR, tags=["webhooks"])
async def deliveries(
    session: AsyncSession, principal: Principal, sub_id: str, limit: int = Parameter(default=100, ge=1, le=500)
) -> list[DeliveryOut]:
    """Recent deliveries, newest first, with attempts and the last error."""
    row = await _own(session, principal, sub_id)
    rows = (
        await session.execute(
            text("SELECT * FROM webhook_delivery WHERE subscription_id = :id ORDER BY created_at DESC, id LIMIT :n"),
            {"id": row.id, "n": limit},
        )
    ).all()
    return [_delivery(r) for r in rows]


@post(BASE + "/{sub_id:str}/deliveries/{delivery_id:str}/redeliver", guards=HR, tags=["webhooks"], status_code=202)
async def redeliver(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, sub_id: str, delivery_id: str
) -> DeliveryOut:
    """Send a delivery again (same webhook-id, so receivers can de-duplicate), with a fresh horizon."""
    sub = await _own(session, principal, sub_id)
    if not sub.enabled:
        raise Problem(
            409, "subscription-disabled", "The subscription is disabled; re-enable it (PATCH enabled: true) first."
        )
    ident: uuid.UUID = parse_uuid(delivery_id, "delivery")
    now = utcnow()
    row = (
        await session.execute(
            text(
                "UPDATE webhook_delivery SET delivered_at = NULL, failed_at = NULL, next_attempt_at = :now,"
                " retry_from = :now WHERE id = :id AND subscription_id = :sub RETURNING *"
            ),
            {"id": ident, "sub": sub.id, "now": now},
        )
    ).first()
    if row is None:
        raise Problem(404, "not-found", f"No delivery with id {delivery_id} exists for this subscription.")
    await session.commit()
    wake_webhooks(request)
    return _delivery(row)


handlers = [subscribe, list_subscriptions, get_subscription, update_subscription, unsubscribe, deliveries, redeliver]
