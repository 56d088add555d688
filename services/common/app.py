"""The one place a service's Litestar app is assembled (the "init plugin" of litestar-fullstack).

A service's ``create_app(settings)`` calls :func:`build_app` with its route handlers; everything
cross-cutting is registered here: database lifespan (engine and asyncpg pool), auth, problem
details, request ids, logs, metrics, health, CORS, OpenAPI docs, peer clients, the outbox relay
and the service's polling workers.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Litestar, Request, get
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import db, docs, migrations
from services.common.auth import (
    Authenticator,
    FailureThrottle,
    KeySet,
    Principal,
    ServiceTokens,
    allow,
    auth_middleware,
    check_declared,
    declared_roles,
    principal_var,
)
from services.common.edge import parse_networks
from services.common.errors import document_problems, exception_handlers
from services.common.front import AccessLog, front_middleware
from services.common.http import PeerClient
from services.common.observability import (
    access_log_wanted,
    configure_logging,
    health_controller,
    metrics_controller,
)
from services.common.outbox import OutboxFields, Relay, Sender, peer_sender
from services.common.outbox_admin import gauge_refresher, outbox_admin_controller
from services.common.responses import JSONBytes
from services.common.settings import ServiceSettings, peer_url
from services.common.worker import PollingWorker

DOCS_PATH = docs.DOCS_PATH
YOUNG_COLLECTION_THRESHOLD = 10_000  # container objects allocated (net) before a young collection


@dataclass
class ServiceSpec:
    title: str
    description: str
    route_handlers: Sequence[Any]
    outbox: type[OutboxFields] | None = None
    peers: tuple[str, ...] = ()
    relay_sender: Callable[[Litestar], Sender] | None = None
    # the size of the service's asyncpg pool (app.state.pool, the ``conn`` dependency) from its
    # settings; None: the service uses the SQLAlchemy engine only
    asyncpg_pool: Callable[[Any], int] | None = None
    # factories of polling workers started after on_startup and stopped before on_shutdown; a
    # factory may return None (the worker is switched off in the settings)
    workers: list[Callable[[Litestar], PollingWorker | None]] = field(default_factory=list)
    on_startup: list[Callable[[Litestar], Awaitable[None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[Litestar], Awaitable[None]]] = field(default_factory=list)
    dependencies: dict[str, Provide] = field(default_factory=dict)
    # constraint name -> (problem slug, what to fix), for writes a database constraint refuses
    constraint_problems: dict[str, tuple[str, str]] = field(default_factory=dict)
    version: str = "1.0.0"


_encode = msgspec.json.Encoder().encode


class WhoAmI(msgspec.Struct):
    sub: str
    roles: list[str]
    name: str
    org: str


@get(
    "/v1/whoami",
    opt=allow("learner", "instructor", "admin", "hr", "service"),
    tags=["auth"],
    responses={200: ResponseSpec(data_container=WhoAmI, description="Request fulfilled, document follows")},
)
async def whoami() -> JSONBytes:
    """The identity and roles the bearer token grants."""
    # No parameters (Litestar's parameter machinery was about 5 % of this route's cost): the caller comes
    # from the auth middleware, which refuses a request without one before the handler runs.
    user = principal_var.get()
    if user is None:  # not reached: fail closed all the same
        raise NotAuthorizedException("Send an Authorization: Bearer <token> header.")
    return JSONBytes(_encode(WhoAmI(sub=user.sub, roles=sorted(user.roles), name=user.name, org=user.org)))


async def provide_session(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


def _throttled(scope: Any) -> bool:
    """Rate-limit public routes and requests without a token; never the probes and metrics.
    (Read from the raw scope: this runs for every request.)"""
    if scope["path"].startswith(("/health", "/metrics")):
        return False
    if scope["route_handler"].opt.get("public"):
        return True
    return all(name != b"authorization" for name, _ in scope["headers"])


def public_rate_limit(app: ASGIApp, config: RateLimitConfig) -> ASGIApp:
    """Route middleware: the requests :func:`_throttled` picks go through Litestar's rate limit
    (``config``); the others (authenticated calls, probes) skip it without the request object, store
    lookup and check that Litestar's middleware makes for every request before deciding."""
    limited = RateLimitMiddleware(app, config)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if _throttled(scope):
            await limited(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


def build_app(settings: ServiceSettings, spec: ServiceSpec) -> Litestar:
    service = settings.service
    configure_logging(service, settings.log_level, settings.log_json)
    heads = migrations.head_revisions(service)

    async def ready_check() -> str | None:
        engine = getattr(app.state, "engine", None)
        if engine is None:
            return "The database engine is not started yet."
        try:
            revision = await asyncio.wait_for(db.schema_revision(engine, service), timeout=3.0)
        except Exception as exc:
            return f"The database is not reachable or not migrated: {type(exc).__name__}."
        if revision not in heads:
            return f"The schema is at {revision}, not at head {sorted(heads)}: run `alembic -n {service} upgrade head`."
        return None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = settings.database_url or await asyncio.to_thread(db.resolve_database_url, service, "")
        app.state.engine = db.create_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            acquire_timeout=settings.db_acquire_timeout_seconds,
            statement_timeout=settings.db_statement_timeout_seconds,
            connect_timeout=settings.db_connect_timeout_seconds,
        )
        app.state.sessionmaker = db.session_factory(app.state.engine)
        app.state.pool = None
        if spec.asyncpg_pool is not None:
            app.state.pool = await db.open_pool(
                app.state.engine.url,
                max_size=spec.asyncpg_pool(settings),
                min_size=settings.db_pool_min_size,
                options=db.pool_options(settings),
            )
        tokens = ServiceTokens(
            settings.service_key_file,
            service=service,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        app.state.peers = {
            name: PeerClient(peer_url(name), tokens, timeout=settings.peer_timeout_seconds) for name in spec.peers
        }
        app.state.relay = None
        if spec.outbox is not None and settings.relay_enabled:
            sender = spec.relay_sender(app) if spec.relay_sender else peer_sender(app.state.peers)
            app.state.relay = Relay(
                app.state.engine,
                spec.outbox,
                sender,
                batch=settings.relay_batch,
                poll_seconds=settings.relay_poll_seconds,
                backoff_base=settings.relay_backoff_base,
                backoff_cap=settings.relay_backoff_cap,
                lease_seconds=settings.peer_timeout_seconds * 2 + 30,
            )
            app.state.relay.start()
        for hook in spec.on_startup:
            await hook(app)
        workers = [w for w in (make(app) for make in spec.workers) if w is not None]
        for worker in workers:
            worker.start()
        # What start-up made (routes, schemas, models, the OpenAPI document, pools) lives as long as the
        # process: frozen, the garbage collector no longer walks it, which made each full collection
        # stop the service for tens of milliseconds. A young collection waits for 10,000 more
        # container objects instead of 700: a request's objects are freed by reference counting
        # when it ends, so at 700 the objects of the requests in flight alone set off a collection
        # every few answers. Both undone at shutdown, so that an app built and stopped inside a
        # longer-lived process (tests) leaves the collector as it found it.
        # The collection before the freeze is of the two young generations only: start-up's garbage
        # is young, and a full one walks the whole heap (in a test process, every earlier test's).
        thresholds = gc.get_threshold()
        gc.collect(1)
        gc.freeze()
        gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_THRESHOLD), *thresholds[1:])
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            for worker in workers:
                await worker.stop()
            for hook in spec.on_shutdown:
                await hook(app)
            if app.state.relay is not None:
                await app.state.relay.stop()
            for client in app.state.peers.values():
                await client.aclose()
            if app.state.pool is not None:
                await app.state.pool.close()
            await app.state.engine.dispose()
            if app.state.access_log is not None:
                app.state.access_log.flush()

    outbox_routes = [outbox_admin_controller(spec.outbox)] if spec.outbox is not None else []
    keyset = KeySet(settings.jwks, service_sources=settings.service_jwks)
    throttle = FailureThrottle(settings.failed_auth_limit)
    authenticator = Authenticator(keyset, throttle, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    app = Litestar(
        route_handlers=[
            *spec.route_handlers,
            *outbox_routes,
            whoami,
            health_controller(ready_check),
            metrics_controller(),
            docs.root_page,
            docs.assets_router,
        ],
        lifespan=[lifespan],
        dependencies={
            "session": Provide(provide_session),
            "conn": Provide(db.provide_connection),
            "principal": Provide(provide_principal, sync_to_thread=False),
            **spec.dependencies,
        },
        exception_handlers=exception_handlers,
        middleware=[
            *(
                [DefineMiddleware(public_rate_limit, config=RateLimitConfig(("minute", settings.public_rate_limit)))]
                if settings.public_rate_limit
                else []
            ),
            DefineMiddleware(auth_middleware, exclude_prefix=DOCS_PATH, authenticate=authenticator),
        ],
        cors_config=CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "X-Experience-API-Version",
            ],
            expose_headers=[
                "X-Request-ID",
                "Location",
                "ETag",
                "X-Experience-API-Consistent-Through",
                "X-Experience-API-Version",
            ],
            allow_credentials=False,
        ),
        openapi_config=OpenAPIConfig(
            title=spec.title,
            version=spec.version,
            description=spec.description,
            path=DOCS_PATH,
            render_plugins=[docs.ScalarDocs(), docs.SwaggerDocs()],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            use_handler_docstrings=True,
            operation_id_creator=docs.operation_id,
        ),
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
    )
    # One pure-ASGI middleware in front of everything (request id, edge checks, security headers,
    # metrics, access log); outermost, so that answers made by middleware (401s) carry them too.
    access_log = AccessLog(service, settings.log_json) if access_log_wanted(settings.log_level) else None
    cors: Any = app.asgi_handler  # Litestar's CORS middleware around its exception-handling router
    app.asgi_handler = front_middleware(
        cors,
        without_origin=cors.app if type(cors).__name__ == "CORSMiddleware" else None,
        service=service,
        max_header_bytes=settings.max_header_bytes,
        max_json_depth=settings.max_json_depth,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        access_log=access_log,
    )
    app.state.access_log = access_log
    app.state.settings = settings
    app.state.constraint_problems = spec.constraint_problems
    app.state.keyset, app.state.auth_failures = keyset, throttle
    app.state.before_metrics = gauge_refresher(spec.outbox) if spec.outbox is not None else None
    handlers = [
        handler
        for route in app.routes
        if not route.path.startswith(DOCS_PATH)
        for handler in getattr(route, "route_handlers", [])
    ]
    check_declared(handlers)
    public = [h for h in handlers if declared_roles(h) == ()]
    document_problems(handlers, public=lambda h: h in public)
    docs.document_operations(handlers, public)
    docs.tidy_schema_names(app)
    return app
