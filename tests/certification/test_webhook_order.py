"""Webhook delivery order, checked by a receiver that verifies with the ``standardwebhooks``
library: while certificates are issued, suspended, reinstated and revoked concurrently, a receiver
that fails, hangs and recovers applies every change of every certificate exactly once (duplicates
recognised by webhook-id) and in the order the changes happened; a subscription disabled after its
retry horizon gets what it missed, in order, once it is enabled again."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.certification.conftest import Service, running
from tests.support import Keys, serve

SERVICE = "certification"
EVENTS = [
    "certificate.issued",
    "certificate.revoked",
    "certificate.suspended",
    "certificate.reinstated",
    "certificate.reissued",
]
FAST = {
    "webhook_backoff_base": 0.05,
    "webhook_backoff_cap": 0.3,
    "webhook_poll_seconds": 0.05,
    "webhook_timeout_seconds": 0.5,
}


@dataclass
class FlakyReceiver:
    """Fails, hangs past the sender's timeout, or answers 200, as scripted; applies each valid,
    not yet seen message (by webhook-id) in arrival order."""

    behaviour: Any = None  # () -> "ok" | "fail" | "hang"
    secret: str = ""
    applied: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    requests: int = 0
    duplicates: int = 0
    forged: int = 0
    url: str = ""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        action = self.behaviour() if self.behaviour else "ok"
        status = 200
        if action == "fail":
            status = 503
        else:
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            try:
                event = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                self.forged += 1
                status = 400
            else:
                if headers["webhook-id"] in self.seen:
                    self.duplicates += 1
                else:
                    self.seen.add(headers["webhook-id"])
                    self.applied.append(event)
            if action == "hang":
                await asyncio.sleep(1.5)  # past the sender's timeout: it will send this again
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def receiver() -> AsyncIterator[FlakyReceiver]:
    rec = FlakyReceiver()
    async with serve(rec) as base:
        rec.url = f"{base}/hooks/lms"
        yield rec


async def subscribe(svc: Service, receiver: FlakyReceiver) -> dict[str, Any]:
    r = await svc.client.post(
        "/v1/webhooks/subscriptions", json={"url": receiver.url, "event_types": EVENTS}, headers=svc.h("hr", sub="hr-o")
    )
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    again = await svc.client.post(
        "/v1/webhooks/subscriptions", json={"url": receiver.url, "event_types": EVENTS}, headers=svc.h("hr", sub="hr-o")
    )
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"] and again.json()["secret"] is None
    assert again.headers["location"].endswith(r.json()["id"])
    return dict(r.json())


async def act(svc: Service, cert_id: str, action: str) -> None:
    r = await svc.client.post(
        f"/v1/admin/certificates/{cert_id}/{action}", json={"reason": action}, headers=svc.h("admin")
    )
    assert r.status_code in (200, 201), r.text


async def feed_by_certificate(svc: Service) -> dict[str, list[int]]:
    """The order of truth: the HR feed's change seqs per certificate."""
    order: dict[str, list[int]] = {}
    cursor = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await svc.client.get("/v1/certificates", params=params, headers=svc.h("hr"))).json()
        for item in page["items"]:
            order.setdefault(item["certificate_id"], []).append(item["seq"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return order


def applied_by_certificate(receiver: FlakyReceiver) -> dict[str, list[int]]:
    order: dict[str, list[int]] = {}
    for event in receiver.applied:
        order.setdefault(event["data"]["id"], []).append(event["data"]["change_seq"])
    return order


async def until(predicate: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_flaky_receiver_gets_every_change_once_in_order(
    database_url: str, keys: Keys, receiver: FlakyReceiver
) -> None:
    rng = random.Random(15)
    script = iter(rng.choices(["fail", "hang", "ok"], weights=[4, 1, 5], k=60))
    receiver.behaviour = lambda: next(script, "ok")  # then it recovers
    async with running(database_url, keys, **FAST) as a, running(database_url, keys, **FAST) as b:
        await subscribe(a, receiver)

        async def life(n: int) -> None:
            svc = (a, b)[n % 2]
            cert = (await svc.issue(f"order-{n}", level=n % 5)).json()
            for action in (["suspend", "reinstate", "revoke"], ["revoke"], ["suspend", "reinstate"])[n % 3]:
                await act((b, a)[n % 2], cert["id"], action)

        await asyncio.gather(*(life(n) for n in range(8)))
        truth = await feed_by_certificate(a)
        assert sum(map(len, truth.values())) == 8 + 3 * 3 + 3 * 1 + 2 * 2
        await until(lambda: sum(map(len, applied_by_certificate(receiver).values())) >= sum(map(len, truth.values())))
        await asyncio.sleep(0.5)  # nothing further arrives
        assert applied_by_certificate(receiver) == truth  # every change, once, in order per certificate
        assert receiver.forged == 0 and receiver.requests > len(receiver.applied)  # it did fail and retry
        for event in receiver.applied:
            status = {"certificate.revoked": "revoked", "certificate.suspended": "suspended"}.get(event["type"])
            assert status is None or event["data"]["status"] == status


async def test_reenabling_delivers_what_was_missed_in_order(
    database_url: str, keys: Keys, receiver: FlakyReceiver
) -> None:
    receiver.behaviour = lambda: "fail"
    async with running(database_url, keys, webhook_retry_horizon_seconds=0.5, **FAST) as svc:
        sub = await subscribe(svc, receiver)
        h = svc.h("hr", sub="hr-o")
        first = (await svc.issue("missed-1", level=2)).json()

        async def disabled() -> bool:
            r = await svc.client.get(f"/v1/webhooks/subscriptions/{sub['id']}", headers=h)
            return r.json()["enabled"] is False

        deadline = time.monotonic() + 30
        while not await disabled():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        sent_while_failing = receiver.requests
        # Changes while the subscription is disabled are kept, not sent.
        for action in ("suspend", "reinstate", "revoke"):
            await act(svc, first["id"], action)
        second = (await svc.issue("missed-2", level=3)).json()
        await asyncio.sleep(0.3)
        assert receiver.requests == sent_while_failing and receiver.applied == []
        receiver.behaviour = lambda: "ok"
        r = await svc.client.patch(f"/v1/webhooks/subscriptions/{sub['id']}", json={"enabled": True}, headers=h)
        assert r.status_code == 200 and r.json()["enabled"] is True
        await until(lambda: len(receiver.applied) == 5)
        await asyncio.sleep(0.3)
        assert [(e["data"]["id"], e["type"]) for e in receiver.applied if e["data"]["id"] == first["id"]] == [
            (first["id"], "certificate.issued"),
            (first["id"], "certificate.suspended"),
            (first["id"], "certificate.reinstated"),
            (first["id"], "certificate.revoked"),
        ]
        assert [e["data"]["id"] for e in receiver.applied].count(second["id"]) == 1
        assert applied_by_certificate(receiver) == await feed_by_certificate(svc)
        assert json.dumps(receiver.applied)  # plain JSON, as the library parsed it
