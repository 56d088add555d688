"""The outbox sender for certificate requests: the kernel's ``peer_sender``, which on 2xx also
records the certificate's id and serial for the learner's dashboard (idempotently: a redelivery
writes the same values)."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote

import httpx
from litestar import Litestar
from sqlalchemy import text

from services.common.outbox import PermanentFailure, Sender, peer_sender

CERTIFICATE_PATH = re.compile(r"^/v1/officials/(?P<official>[^/]+)/levels/(?P<level>[0-4])/certificate$")


def certificate_sender(app: Litestar) -> Sender:
    async def record(row: Any, response: httpx.Response) -> None:
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

    return peer_sender(app.state.peers, on_success=record)
