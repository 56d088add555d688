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

from services.common.outbox import PermanentFailure, Sender, peer_sender
from services.progress.store.base import Db
from services.progress.store.progress import record_certificate

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
        async with Db(app).transaction() as conn:
            await record_certificate(conn, unquote(match["official"]), int(match["level"]), certificate_id, serial)

    return peer_sender(app.state.peers, on_success=record)
