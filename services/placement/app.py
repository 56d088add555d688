"""Placement service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

from litestar import Litestar

from services.placement.models import Outbox
from services.placement.settings import Settings, get_settings
from services.common.app import ServiceSpec, build_app


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    spec = ServiceSpec(
        title="LMS placement service",
        description="Adaptive diagnostic that places each official at Level 0-4.",
        route_handlers=[],
        outbox=Outbox,
        peers=("progress",),
    )
    return build_app(settings, spec)
