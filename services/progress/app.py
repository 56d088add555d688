"""Progress service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

from litestar import Litestar

from services.progress.models import Outbox
from services.progress.settings import Settings, get_settings
from services.common.app import ServiceSpec, build_app


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    spec = ServiceSpec(
        title="LMS progress service",
        description="Learning paths, cohort sessions with seats and waitlists, attendance and learning events.",
        route_handlers=[],
        outbox=Outbox,
        peers=("certification",),
    )
    return build_app(settings, spec)
