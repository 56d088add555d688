"""Progress service app factory: `create_app(settings)`; the routes are listed in ``api/__init__.py``."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from services.common.app import ServiceSpec, build_app
from services.progress import recompute
from services.progress.api import ROUTES
from services.progress.api.common import provide_db
from services.progress.api.errors import CONSTRAINTS
from services.progress.api.xapi import alternate_syntax, basic_auth
from services.progress.models import Outbox
from services.progress.relay import certificate_sender
from services.progress.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    spec = ServiceSpec(
        title="LMS progress service",
        description="Learning paths, cohort sessions with seats and waitlists, attendance and learning events.",
        route_handlers=ROUTES,
        dependencies={"db": Provide(provide_db, sync_to_thread=False)},
        constraint_problems=CONSTRAINTS,
        outbox=Outbox,
        peers=("certification",),
        relay_sender=certificate_sender,
        asyncpg_pool=lambda s: s.db_pool_size + s.db_max_overflow,
        workers=[recompute.worker],
    )
    app = build_app(settings, spec)
    app.state.basic_auth = basic_auth  # HTTP Basic for the configured xAPI client (off by default)
    app.asgi_handler = alternate_syntax(app.asgi_handler)  # xAPI 1.0.3 alternate request syntax
    return app
