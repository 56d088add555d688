"""Placement service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

import asyncpg
from litestar import Litestar

from services.common.app import ServiceSpec, build_app
from services.common.db import plain_url, pool_options
from services.placement.api import ROUTES
from services.placement.bank import VersionCache
from services.placement.models import Outbox
from services.placement.settings import Settings, get_settings


async def open_pool(app: Litestar) -> None:
    """A bare asyncpg pool for the answer hot path, on the same database as the kernel's engine."""
    settings = app.state.settings
    app.state.placement_pool = await asyncpg.create_pool(
        plain_url(app.state.engine.url),
        min_size=1,
        max_size=settings.db_pool_size,
        **pool_options(settings),
        reset=_reset,
    )


async def _reset(conn: asyncpg.Connection) -> None:
    """On release: roll back only if a transaction was left open (a cancelled request). The hot
    path uses no session state, so asyncpg's full reset (one more round trip) is not needed."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def close_pool(app: Litestar) -> None:
    pool = getattr(app.state, "placement_pool", None)
    if pool is not None:
        await pool.close()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    settings.test_config()  # fail at start-up on a bad test configuration
    spec = ServiceSpec(
        title="LMS placement service",
        description="Adaptive diagnostic that places each official at Level 0-4.",
        route_handlers=ROUTES,
        outbox=Outbox,
        peers=("progress",),
        on_startup=[open_pool],
        on_shutdown=[close_pool],
    )
    app = build_app(settings, spec)
    app.state.placement_versions = VersionCache()
    return app
