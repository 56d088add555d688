"""Helpers shared by the progress controllers."""

from __future__ import annotations

from typing import Any

from litestar import Request

from services.common.errors import Problem


def wake_relay(request: Request[Any, Any, Any]) -> None:
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.wake()


def bounded_limit(limit: int, maximum: int = 500) -> int:
    if limit < 1 or limit > maximum:
        raise Problem(400, "invalid-limit", f"limit must be between 1 and {maximum}.")
    return limit
