"""Raw asyncpg access through the kernel's pool (the service's SQL is explicit and set-based):
``connect(app)`` is the kernel's :func:`services.common.db.connect`; ``store/`` uses it through
``store.base.Db``."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from services.common.db import connect, utcnow
from services.progress.domain.events import iso

SEOUL = ZoneInfo("Asia/Seoul")


def today() -> date:
    """The calendar day where people are (sessions are scheduled in Asia/Seoul)."""
    return utcnow().astimezone(SEOUL).date()


def jsonb(value: Any) -> Any:
    """A JSONB column's value: pool and engine connections decode JSONB already (and take it
    encoded as text); a bare asyncpg connection hands back the text."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


__all__ = ["SEOUL", "connect", "iso", "jsonb", "today"]
