"""Certification service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

import asyncpg
from litestar import Litestar

from services.certification.api import admin, feed, issuing, public, webhooks
from services.certification.keyring import KeyRing, ensure_key
from services.certification.models import Outbox
from services.certification.settings import Settings, get_settings, passphrase_problem
from services.certification.statuslists import StatusListCache
from services.certification.store import Issuer
from services.certification.worker import WebhookWorker
from services.common.app import ServiceSpec, build_app
from services.common.db import plain_url, pool_options


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    problem = passphrase_problem(settings)
    if problem:
        raise SystemExit(f"certification: {problem}")

    async def start(app: Litestar) -> None:
        engine = app.state.engine
        await ensure_key(engine, settings.key_passphrase)
        app.state.reads = await asyncpg.create_pool(
            plain_url(engine.url),
            min_size=1,
            max_size=settings.read_pool_size,
            **pool_options(settings),
        )
        keyring = KeyRing(engine, settings.key_passphrase, settings.key_cache_seconds)
        app.state.keyring = keyring
        app.state.issuer = Issuer(settings, keyring)
        app.state.status_lists = StatusListCache(engine, keyring, settings, app.state.reads)
        app.state.webhooks = None
        if settings.webhooks_enabled:
            app.state.webhooks = WebhookWorker(engine, settings)
            app.state.webhooks.start()

    async def stop(app: Litestar) -> None:
        if getattr(app.state, "webhooks", None) is not None:
            await app.state.webhooks.stop()
        if getattr(app.state, "reads", None) is not None:
            await app.state.reads.close()

    spec = ServiceSpec(
        title="LMS certification service",
        description="Verifiable Open Badges 3.0 certificates, revocation and the HR feed.",
        route_handlers=[*issuing.handlers, *admin.handlers, *public.handlers, *feed.handlers, *webhooks.handlers],
        outbox=Outbox,
        peers=(),
        on_startup=[start],
        on_shutdown=[stop],
    )
    return build_app(settings, spec)
