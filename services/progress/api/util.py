"""``wake_relay`` for handlers that hold the request (the xAPI statements resource)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from services.progress.store.base import Db


def wake_relay(request: Request[Any, Any, Any]) -> None:
    Db(request.app).wake_relay()
