"""Certification service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

from litestar import Litestar

from services.certification.api import ROUTES
from services.certification.models import Outbox
from services.certification.settings import Settings, get_settings, passphrase_problem
from services.certification.store.certificates import Issuer
from services.certification.store.keys import KeyRing, ensure_keys
from services.certification.store.status_lists import StatusListCache
from services.certification.worker import WebhookWorker
from services.common.app import ServiceSpec, build_app


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    problem = passphrase_problem(settings)
    if problem:
        raise SystemExit(f"certification: {problem}")

    async def start(app: Litestar) -> None:
        engine = app.state.engine
        await ensure_keys(engine, settings.key_passphrase)
        keyring = KeyRing(
            engine, settings.key_passphrase, settings.key_cache_seconds, settings.signing_alg, settings.public_url
        )
        app.state.keyring = keyring
        app.state.issuer = Issuer(settings, keyring)
        app.state.status_lists = StatusListCache(engine, keyring, settings, app.state.pool)

    def webhook_worker(app: Litestar) -> WebhookWorker | None:
        app.state.webhooks = WebhookWorker(app.state.engine, settings) if settings.webhooks_enabled else None
        return app.state.webhooks

    spec = ServiceSpec(
        title="LMS certification service",
        description="Verifiable Open Badges 3.0 certificates, revocation and the HR feed.",
        route_handlers=ROUTES,
        outbox=Outbox,
        peers=(),
        # the asyncpg pool for the hot public reads (verify, status-list versions)
        asyncpg_pool=lambda s: s.read_pool_size,
        on_startup=[start],
        workers=[webhook_worker],
    )
    return build_app(settings, spec)
