"""Webhook subscriptions for HR systems (role hr), their deliveries and manual redelivery."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from services.certification.api.common import Caller, Session, parse_uuid, wake_webhooks
from services.certification.domain.keys import seal
from services.certification.domain.webhooks import EVENT_TYPES, new_secret
from services.certification.schemas import DeliveryOut, SubscriptionIn, SubscriptionOut, SubscriptionPatch
from services.certification.store import webhooks as store
from services.certification.targets import allowed_networks, target_problem
from services.certification.worker import webhook_id
from services.common.auth import allow
from services.common.errors import Problem

HR = allow("hr")
BASE = "/v1/webhooks/subscriptions"


def _check(url: str | None, events: list[str] | None) -> None:
    """Every bad field at once."""
    errors = []
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append({"field": "url", "source": "body", "message": "not an absolute http(s) URL"})
    unknown = sorted(set(events or ()) - set(EVENT_TYPES))
    if unknown:
        errors.append({"field": "event_types", "source": "body", "message": f"unknown: {unknown}"})
    if errors:
        raise Problem(
            400,
            "validation",
            "url must be an absolute http(s) URL (e.g. https://hr.example.go.kr/hooks/lms) and event_types "
            f"each one of {', '.join(EVENT_TYPES)}.",
            errors=errors,
        )


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


async def _check_target(request: Request[Any, Any, Any], url: str | None) -> None:
    """Webhooks go to public addresses only, unless the allowlist names the network."""
    if url is None:
        return
    reason = await target_problem(url, allowed_networks(request.app.state.settings))
    if reason:
        raise Problem(
            400,
            "forbidden-target",
            f"Webhooks cannot be sent there: {reason}.",
            errors=[{"field": "url", "source": "body", "message": reason}],
        )


async def _own(session: Session, principal: Caller, sub_id: FromPath[str]) -> Any:
    row = await store.own(session, principal.sub, parse_uuid(sub_id, "subscription"))
    if row is None:
        raise Problem(404, "not-found", f"No subscription with id {sub_id} exists, or you may not see it.")
    return row


@post(
    BASE,
    opt=HR,
    tags=["webhooks"],
    status_code=201,
    responses={200: ResponseSpec(SubscriptionOut, description="This URL is already subscribed: that subscription")},
)
async def subscribe(
    request: Request[Any, Any, Any], session: Session, principal: Caller, data: JSONBody[SubscriptionIn]
) -> Response[SubscriptionOut]:
    """Subscribe a URL to event types. The answer carries the signing secret (``whsec_...``) once;
    subscribing the same URL again answers 200 with the existing subscription (no secret)."""
    _check(data.url, data.event_types)
    await _check_target(request, data.url)
    secret = new_secret()
    sealed = seal(secret, request.app.state.settings.key_passphrase)  # never stored in plain text
    row, created = await store.subscribe(session, principal.sub, data.url, sorted(set(data.event_types)), sealed)
    await session.commit()
    return Response(
        _out(row, secret if created else None),
        status_code=201 if created else 200,
        headers={"Location": f"{BASE}/{row.id}"},
    )


@get(BASE, opt=HR, tags=["webhooks"])
async def list_subscriptions(session: Session, principal: Caller) -> list[SubscriptionOut]:
    """The caller's subscriptions, oldest first."""
    return [_out(r) for r in await store.owned(session, principal.sub)]


@get(BASE + "/{sub_id:str}", opt=HR, tags=["webhooks"])
async def get_subscription(session: Session, principal: Caller, sub_id: FromPath[str]) -> SubscriptionOut:
    """A subscription; a disabled one says why in ``disabled_reason``."""
    return _out(await _own(session, principal, sub_id))


@patch(BASE + "/{sub_id:str}", opt=HR, tags=["webhooks"])
async def update_subscription(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    sub_id: FromPath[str],
    data: JSONBody[SubscriptionPatch],
) -> SubscriptionOut:
    """Change the URL or event types, or re-enable: what was not delivered meanwhile (also changes
    made while it was disabled) is then delivered, in order, with a fresh retry horizon."""
    row = await _own(session, principal, sub_id)
    _check(data.url, data.event_types)
    await _check_target(request, data.url)
    events = sorted(set(data.event_types)) if data.event_types is not None else None
    updated = await store.update(session, row.id, data.url, events, data.enabled)
    await session.commit()
    wake_webhooks(request)
    return _out(updated)


@delete(BASE + "/{sub_id:str}", opt=HR, tags=["webhooks"])
async def unsubscribe(session: Session, principal: Caller, sub_id: FromPath[str]) -> None:
    """Delete a subscription and its deliveries."""
    row = await _own(session, principal, sub_id)
    await store.delete(session, row.id)
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


@get(BASE + "/{sub_id:str}/deliveries", opt=HR, tags=["webhooks"])
async def deliveries(
    session: Session,
    principal: Caller,
    sub_id: FromPath[str],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """Recent deliveries, newest first, with attempts and the last error."""
    row = await _own(session, principal, sub_id)
    return [_delivery(r) for r in await store.deliveries(session, row.id, limit)]


@post(BASE + "/{sub_id:str}/deliveries/{delivery_id:str}/redeliver", opt=HR, tags=["webhooks"], status_code=202)
async def redeliver(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    sub_id: FromPath[str],
    delivery_id: FromPath[str],
) -> DeliveryOut:
    """Send a delivery again (same webhook-id, so receivers can de-duplicate), with a fresh horizon."""
    sub = await _own(session, principal, sub_id)
    if not sub.enabled:
        raise Problem(
            409, "subscription-disabled", "The subscription is disabled; re-enable it (PATCH enabled: true) first."
        )
    ident: uuid.UUID = parse_uuid(delivery_id, "delivery")
    row = await store.redeliver(session, sub.id, ident)
    if row is None:
        raise Problem(404, "not-found", f"No delivery with id {delivery_id} exists for this subscription.")
    await session.commit()
    wake_webhooks(request)
    return _delivery(row)


handlers = [subscribe, list_subscriptions, get_subscription, update_subscription, unsubscribe, deliveries, redeliver]
