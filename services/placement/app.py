"""Placement service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

from litestar import Litestar

from services.common.app import ServiceSpec, build_app
from services.placement.api import ROUTES
from services.placement.models import Outbox
from services.placement.settings import Settings, get_settings
from services.placement.store.bank import VersionCache
from services.placement.store.sessions import LiveSessions


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    settings.test_config()  # fail at start-up on a bad test configuration
    spec = ServiceSpec(
        title="LMS placement service",
        description="Adaptive diagnostic that places each official at Level 0-4.",
        route_handlers=ROUTES,
        outbox=Outbox,
        peers=("progress",),
        # a bare asyncpg pool for the answer hot path: one connection per in-flight request
        asyncpg_pool=lambda s: s.db_pool_size,
    )
    app = build_app(settings, spec)
    app.state.placement_versions = VersionCache()
    app.state.placement_live = LiveSessions()  # the sessions this process wrote last (answers skip their read)
    return app
