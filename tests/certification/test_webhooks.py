"""Webhooks to a real HTTP receiver: Standard Webhooks signatures checked by the receiver, retries
with backoff, disabling after the retry horizon with a visible reason, and manual redelivery."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.certification.conftest import Service, running
from tests.support import Keys, serve

SERVICE = "certification"


@dataclass
class Receiver:
    """A plain ASGI app that records what it receives and answers with scripted statuses."""

    statuses: list[int] = field(default_factory=list)  # consumed in order; 200 when empty
    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def check(self, headers: dict[str, str], body: bytes) -> bool:
        """The receiver's own Standard Webhooks verification (independent of the service's code)."""
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
        return fresh and any(
            sig.partition(",")[0] == "v1" and hmac.compare_digest(sig.partition(",")[2], expected)
            for sig in headers["webhook-signature"].split()
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = self.statuses.pop(0) if self.statuses else 200
        self.received.append(
            {
                "headers": headers,
                "body": body,
                "status": status,
                "valid": self.check(headers, body) if self.secret else None,
            }
        )
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"try later"})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with serve(rec) as base:
        rec.url = f"{base}/hooks/lms"
        yield rec


FAST = {"webhook_backoff_base": 0.05, "webhook_backoff_cap": 0.2, "webhook_poll_seconds": 0.05}


async def subscribe(svc: Service, receiver: Receiver, events: list[str] | None = None, sub: str = "hr-1") -> dict:
    r = await svc.client.post(
        "/v1/webhooks/subscriptions",
        json={"url": receiver.url, "event_types": events or ["certificate.issued", "certificate.revoked"]},
        headers=svc.h("hr", sub=sub),
    )
    assert r.status_code == 201, r.text
    body = dict(r.json())
    receiver.secret = body["secret"]
    return body


async def until(predicate: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_signed_thin_deliveries_only_for_subscribed_events(
    database_url: str, keys: Keys, receiver: Receiver
) -> None:
    async with running(database_url, keys, **FAST) as svc:
        sub = await subscribe(svc, receiver)
        assert sub["secret"].startswith("whsec_")
        conn = await svc.db()
        try:
            stored = await conn.fetchval("SELECT secret FROM webhook_subscription")
        finally:
            await conn.close()
        assert sub["secret"] not in stored and sub["secret"][6:] not in stored  # sealed at rest
        listed = (await svc.client.get("/v1/webhooks/subscriptions", headers=svc.h("hr", sub="hr-1"))).json()
        assert listed[0]["id"] == sub["id"] and listed[0]["secret"] is None  # the secret is shown once
        cert = (await svc.issue("official-w", level=2)).json()
        await until(lambda: len(receiver.received) == 1)
        got = receiver.received[0]
        assert got["valid"] is True
        assert got["headers"]["webhook-id"].startswith("msg_")
        event = json.loads(got["body"])
        assert event["type"] == "certificate.issued"
        assert event["data"]["id"] == cert["id"] and event["data"]["serial"] == cert["serial"]
        assert event["data"]["url"] == f"{svc.base}/v1/certificates/{cert['id']}"
        assert "credential" not in event["data"] and "official_name" not in event["data"]  # thin payload
        feed = (await svc.client.get("/v1/certificates", headers=svc.h("hr"))).json()["items"]
        assert event["data"]["change_seq"] == feed[0]["seq"]
        record = await svc.client.get(event["data"]["url"].removeprefix(svc.base), headers=svc.h("hr"))
        assert record.status_code == 200
        # suspend is not subscribed; revoke is.
        for action in ("suspend", "revoke"):
            r = await svc.client.post(
                f"/v1/admin/certificates/{cert['id']}/{action}", json={"reason": "x"}, headers=svc.h("admin")
            )
            assert r.status_code == 200
        await until(lambda: len(receiver.received) == 2)
        await asyncio.sleep(0.3)
        assert [json.loads(x["body"])["type"] for x in receiver.received] == [
            "certificate.issued",
            "certificate.revoked",
        ]
        assert all(x["valid"] for x in receiver.received)
        # A tampered body does not verify for the receiver.
        assert not receiver.check(got["headers"], got["body"] + b" ")


async def test_retries_with_backoff_then_delivers_with_the_same_id(
    database_url: str, keys: Keys, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 200]
    async with running(database_url, keys, **FAST) as svc:
        sub = await subscribe(svc, receiver)
        await svc.issue("official-retry", level=1)
        await until(lambda: len(receiver.received) == 3)
        ids = {x["headers"]["webhook-id"] for x in receiver.received}
        assert len(ids) == 1 and all(x["valid"] for x in receiver.received)
        deliveries = (
            await svc.client.get(f"/v1/webhooks/subscriptions/{sub['id']}/deliveries", headers=svc.h("hr", sub="hr-1"))
        ).json()
        for _ in range(50):
            deliveries = (
                await svc.client.get(
                    f"/v1/webhooks/subscriptions/{sub['id']}/deliveries", headers=svc.h("hr", sub="hr-1")
                )
            ).json()
            if deliveries[0]["delivered_at"]:
                break
            await asyncio.sleep(0.05)
        d = deliveries[0]
        assert d["attempts"] == 3 and d["delivered_at"] and d["last_status"] == 200 and d["webhook_id"] in ids


async def test_disabled_after_the_horizon_then_reenabled_and_redelivered(
    database_url: str, keys: Keys, receiver: Receiver
) -> None:
    receiver.statuses = [500] * 1000
    async with running(database_url, keys, webhook_retry_horizon_seconds=0.6, **FAST) as svc:
        h = svc.h("hr", sub="hr-1")
        sub = await subscribe(svc, receiver)
        await svc.issue("official-down", level=0)

        async def state() -> dict:
            return dict((await svc.client.get(f"/v1/webhooks/subscriptions/{sub['id']}", headers=h)).json())

        deadline = time.monotonic() + 10
        while (s := await state())["enabled"]:
            assert time.monotonic() < deadline, "subscription was never disabled"
            await asyncio.sleep(0.05)
        attempts = len(receiver.received)
        assert attempts >= 2  # it retried before giving up
        # The reason states what happened: every attempt the receiver saw, and the last error.
        reason = s["disabled_reason"]
        assert f"failed {attempts} times over" in reason and "HTTP 500" in reason and s["disabled_at"], reason
        assert "0.6" not in reason and "259200" not in reason  # a measured duration, not a setting
        deliveries = (await svc.client.get(f"/v1/webhooks/subscriptions/{sub['id']}/deliveries", headers=h)).json()
        failed = deliveries[0]
        assert failed["failed_at"] and failed["delivered_at"] is None and failed["last_status"] == 500
        # Nothing more is sent to a disabled subscription, not even new events.
        await svc.issue("official-down-2", level=0)
        await asyncio.sleep(0.4)
        assert len(receiver.received) == attempts
        r = await svc.client.post(
            f"/v1/webhooks/subscriptions/{sub['id']}/deliveries/{failed['id']}/redeliver", headers=h
        )
        assert r.status_code == 409
        # The receiver is fixed; the HR system re-enables and asks for the failed delivery again.
        receiver.statuses = []
        r = await svc.client.patch(f"/v1/webhooks/subscriptions/{sub['id']}", json={"enabled": True}, headers=h)
        assert r.status_code == 200 and r.json()["enabled"] is True and r.json()["disabled_reason"] is None
        r = await svc.client.post(
            f"/v1/webhooks/subscriptions/{sub['id']}/deliveries/{failed['id']}/redeliver", headers=h
        )
        assert r.status_code == 202, r.text
        await until(
            lambda: any(
                x["status"] == 200 and x["headers"]["webhook-id"] == failed["webhook_id"] for x in receiver.received
            )
        )
        assert all(x["valid"] for x in receiver.received)


async def test_subscription_validation_and_isolation(svc: Service, receiver: Receiver) -> None:
    h = svc.h("hr", sub="hr-1")
    for body in (
        {"url": "ftp://example.com/x", "event_types": ["certificate.issued"]},
        {"url": "not a url at all", "event_types": ["certificate.issued"]},
        {"url": "https://hr.example.com/x", "event_types": ["certificate.exploded"]},
        {"url": "https://hr.example.com/x", "event_types": []},
    ):
        r = await svc.client.post("/v1/webhooks/subscriptions", json=body, headers=h)
        assert r.status_code == 400, (body, r.text)
    sub = await subscribe(svc, receiver)
    other = svc.h("hr", sub="hr-2")
    assert (await svc.client.get(f"/v1/webhooks/subscriptions/{sub['id']}", headers=other)).status_code == 404
    assert (await svc.client.get("/v1/webhooks/subscriptions", headers=other)).json() == []
    r = await svc.client.delete(f"/v1/webhooks/subscriptions/{sub['id']}", headers=other)
    assert r.status_code == 404
    assert (await svc.client.get("/v1/webhooks/subscriptions", headers=svc.h("learner"))).status_code == 403
    assert (await svc.client.delete(f"/v1/webhooks/subscriptions/{sub['id']}", headers=h)).status_code == 204
    assert (await svc.client.get(f"/v1/webhooks/subscriptions/{sub['id']}", headers=h)).status_code == 404


async def test_two_replicas_deliver_each_event_once(database_url: str, keys: Keys, receiver: Receiver) -> None:
    async with running(database_url, keys, **FAST) as a, running(database_url, keys, **FAST) as b:
        await subscribe(a, receiver, ["certificate.issued"])
        await asyncio.gather(*(svc.issue(f"rep-{i}", level=i % 5) for i, svc in enumerate([a, b] * 6)))
        await until(lambda: len(receiver.received) >= 12)
        await asyncio.sleep(0.4)
        ids = [x["headers"]["webhook-id"] for x in receiver.received]
        assert len(ids) == 12 and len(set(ids)) == 12
