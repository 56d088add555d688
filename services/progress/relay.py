"""The outbox sender for certificate requests: delivers like the kernel's ``peer_sender`` and,
on 2xx, records the certificate's id and serial for the learner's dashboard (idempotently: a
redelivery writes the same values)."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote

import httpx
from litestar import Litestar
from sqlalchemy import text

from services.common.outbox import PERMANENT_STATUSES, PermanentFailure, Sender

CERTIFICATE_PATH = re.compile(r"^/v1/officials/(?P<official>[^/]+)/levels/(?P<level>[0-4])/certificate$")


def certificate_sender(app: Litestar) -> Sender:
    async def send(row: Any) -> None:
        client = app.state.peers.get(row.destination)
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
        if not response.is_success:
            message = f"HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code in PERMANENT_STATUSES:
                raise PermanentFailure(message)
            raise httpx.HTTPStatusError(message, request=response.request, response=response)
        match = CERTIFICATE_PATH.match(row.path)
        if row.destination != "certification" or match is None:
            return
        try:
            data = response.json()
            certificate_id = uuid.UUID(str(data["id"]))
            serial = str(data["serial"])[:64]
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentFailure(f"certification answered {response.status_code} without id and serial") from exc
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE level_completion SET certificate_id = :cid, certificate_serial = :serial, "
                    "certificate_recorded_at = coalesce(certificate_recorded_at, now()) "
                    "WHERE official_id = :official AND level = :level"
                ),
                {
                    "cid": certificate_id,
                    "serial": serial,
                    "official": unquote(match["official"]),
                    "level": int(match["level"]),
                },
            )

    return send
