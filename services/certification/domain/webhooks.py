"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from datetime import datetime

PREFIX = "whsec_"
EVENT_TYPES = (
    "certificate.issued",
    "certificate.revoked",
    "certificate.suspended",
    "certificate.reinstated",
    "certificate.reissued",
)


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(
    secret: str, received: Mapping[str, str], body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale timestamps."""
    msg_id = received.get("webhook-id", "")
    stamp = received.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(stamp), body).split(",", 1)[1]
    for candidate in received.get("webhook-signature", "").split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next attempt after ``attempts`` failures (exponential, capped, no jitter
    below half so a replica storm spreads out)."""
    import random

    ceiling = min(cap, base * 2 ** min(max(attempts - 1, 0), 30))
    return ceiling * random.uniform(0.5, 1.0)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v} {u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")) if v]
    return " ".join(parts) or "0 s"


def disable_reason(
    *,
    url: str,
    webhook_id: str,
    event: str,
    attempts: int,
    since: datetime,
    now: datetime,
    horizon_seconds: float,
    error: str,
) -> str:
    """Why a subscription was disabled, with the facts as they are: how many attempts over how
    long (measured, not the configured horizon), since when, and the last error."""
    return (
        f"Disabled after delivery {webhook_id} ({event}) to {url} failed {attempts} time"
        f"{'s' if attempts != 1 else ''} over {_duration((now - since).total_seconds())}"
        f" (since {since.strftime('%Y-%m-%dT%H:%M:%SZ')}; the next retry would pass the"
        f" {_duration(horizon_seconds)} retry horizon). Last error: {error}. Changes made meanwhile are kept;"
        " re-enable the subscription (PATCH enabled: true) once the endpoint works and they are delivered in order."
    )
