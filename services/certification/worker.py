"""Webhook delivery worker: claims due deliveries with ``FOR UPDATE SKIP LOCKED`` (any number of
replicas may run it), sends each signed as Standard Webhooks, retries with exponential backoff, and
when a delivery still fails after the retry horizon marks it failed and disables the subscription
with a visible reason."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import structlog
from cryptography.exceptions import InvalidTag
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from services.certification.domain import webhooks as wh
from services.certification.domain.keys import unseal
from services.certification.settings import Settings
from services.certification.store import webhooks as store
from services.certification.targets import allowed_networks, target_problem
from services.common.db import utcnow
from services.common.worker import PollingWorker

log = structlog.get_logger()
SENT = Counter("lms_certification_webhooks_delivered_total", "Webhook deliveries acknowledged with 2xx")
FAILED = Counter("lms_certification_webhook_attempts_failed_total", "Failed webhook delivery attempts")


def webhook_id(delivery_id: Any) -> str:
    return f"msg_{delivery_id.hex}"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class WebhookWorker(PollingWorker):
    """The webhook deliveries' polling worker (the loop is the kernel's :class:`PollingWorker`)."""

    def __init__(self, engine: AsyncEngine, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        super().__init__("webhook_worker", poll_seconds=settings.webhook_poll_seconds, batch=settings.webhook_batch)
        self.engine, self.settings = engine, settings
        self.allowed = allowed_networks(settings)
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_seconds, connect=min(settings.webhook_timeout_seconds, 3.0)),
            follow_redirects=False,
            headers={"user-agent": "lms-certification-webhooks/1"},
        )

    async def _send(self, row: Any) -> tuple[int | None, str | None]:
        body = body_of(row.payload)
        try:
            secret = unseal(row.secret, self.settings.key_passphrase)
        except (ValueError, InvalidTag):
            return None, "cannot decrypt the subscription secret: was LMS_CERTIFICATION_KEY_PASSPHRASE changed?"
        refused = await target_problem(row.url, self.allowed)
        if refused:
            return None, f"not sent: {refused}"
        headers = wh.headers(secret, webhook_id(row.id), int(time.time()), body)
        started = time.perf_counter()
        try:
            response = await self.client.post(row.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # only what failed and when: never what the other side said
            return None, f"{type(exc).__name__} after {(time.perf_counter() - started) * 1000:.0f} ms"
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return (
            response.status_code,
            f"HTTP {response.status_code} after {response.elapsed.total_seconds() * 1000:.0f} ms",
        )

    async def run_once(self) -> int:
        s = self.settings
        lease = s.webhook_timeout_seconds * 2 + 30
        async with self.engine.begin() as conn:
            rows = await store.claim(conn, s.webhook_batch, lease)
        if not rows:
            return 0
        outcomes = await asyncio.gather(*(self._send(r) for r in rows))
        now = utcnow()
        async with self.engine.begin() as conn:
            for row, (status, error) in zip(rows, outcomes, strict=True):
                attempts = row.attempts + 1
                if error is None:
                    SENT.inc()
                    await store.delivered(conn, row.id, attempts, status)
                    continue
                FAILED.inc()
                next_at = now + timedelta(seconds=wh.backoff(attempts, s.webhook_backoff_base, s.webhook_backoff_cap))
                if next_at <= row.retry_from + timedelta(seconds=s.webhook_retry_horizon_seconds):
                    await store.retry_later(conn, row.id, attempts, status, error, next_at)
                    continue
                reason = wh.disable_reason(
                    url=row.url,
                    webhook_id=webhook_id(row.id),
                    event=row.event,
                    attempts=attempts,
                    since=row.retry_from,
                    now=now,
                    horizon_seconds=s.webhook_retry_horizon_seconds,
                    error=error,
                )
                await store.give_up(conn, row, attempts, status, error, reason)
                log.warning("webhook_subscription_disabled", subscription=str(row.subscription_id))
        if any(error is None for _, error in outcomes):
            self.wake()  # a delivered change may release the next change of the same certificate
        return len(rows)

    async def stop(self) -> None:
        await super().stop()
        await self.client.aclose()
