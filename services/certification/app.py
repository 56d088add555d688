"""Certification service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

from litestar import Litestar

from services.certification.models import Outbox
from services.certification.settings import Settings, get_settings
from services.common.app import ServiceSpec, build_app


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    spec = ServiceSpec(
        title="LMS certification service",
        description="Verifiable Open Badges 3.0 certificates, revocation and the HR feed.",
        route_handlers=[],
        outbox=Outbox,
        peers=(),
    )
    return build_app(settings, spec)
