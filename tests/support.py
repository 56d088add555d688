"""Test helpers: real PostgreSQL databases, real HTTP servers, signed tokens.

The database server is the embedded one (``.lms/postgres-test``) unless ``LMS_TEST_DATABASE_URL``
names a server (its admin database, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import uvicorn

from services.common import migrations
from services.common.auth import ensure_dev_keys, load_private_jwk, mint_token
from services.common.db import ensure_database, plain_url, with_database

ISSUER, AUDIENCE = "lms-dev", "lms"
TEST_KEY_PASSPHRASE = "test-only-certification-passphrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_url() -> str:
    configured = os.environ.get("LMS_TEST_DATABASE_URL")
    if configured:
        return configured
    from services.common import embedded

    return embedded.server_url("postgres-test")


async def tune_for_tests(url: str) -> None:
    """Durability is not what tests measure: skip fsync on the embedded test cluster."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute("ALTER SYSTEM SET fsync = off")
        await conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


_created: list[str] = []


async def create_database(admin: str, service: str, migrate: bool = True) -> str:
    """A new empty database for ``service``, migrated to head unless ``migrate`` is False."""
    name = f"t_{service}_{uuid.uuid4().hex[:10]}"
    await ensure_database(admin, name)
    _created.append(name)
    url = with_database(admin, name)
    if migrate:
        await asyncio.to_thread(migrations.upgrade, service, url)
    return url


async def drop_databases(admin: str, at_once: int = 16) -> None:
    """Drop the databases this test run created (other runs may share the server). Each DROP
    DATABASE waits for a checkpoint; drops sent together share one, so they go ``at_once`` at a time
    (one by one, a run's few hundred databases took minutes on a busy disk)."""

    async def drop_some(names: list[str]) -> None:
        conn = await asyncpg.connect(plain_url(admin))
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    names, _created[:] = list(_created), []
    await asyncio.gather(*(drop_some(names[i::at_once]) for i in range(min(at_once, len(names)))))


class Keys:
    """A signing key and JWKS in a temporary folder, and a way to mint tokens with it."""

    def __init__(self, folder: Path) -> None:
        self.private_file, self.jwks_file = ensure_dev_keys(folder)
        self.private = load_private_jwk(self.private_file)

    def token(self, role: str = "learner", sub: str | None = None, ttl: int = 600, **claims: Any) -> str:
        return mint_token(
            self.private,
            sub=sub or str(uuid.uuid4()),
            roles=[role],
            issuer=ISSUER,
            audience=AUDIENCE,
            ttl=ttl,
            **claims,
        )

    def headers(self, role: str = "learner", sub: str | None = None, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, sub, **claims)}"}


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn on a real loopback port for the duration of the block, with the
    protocol `lms serve` uses (headers and the first body chunk written at once)."""
    from services.common.server import JoinedWritesProtocol

    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=JoinedWritesProtocol,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped while starting")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` served on a real port."""
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield client


@dataclass
class ServiceClient:
    """One running service as the tests see it: an HTTP client to it on a real port, the app, its
    database and the token keys. Every service's conftest subclasses it as ``Service`` (adding that
    service's helpers) and provides it as the ``svc`` fixture."""

    client: httpx.AsyncClient
    app: Any
    keys: Keys
    database_url: str = ""
    base: str = ""

    def __post_init__(self) -> None:
        """Subclasses set up their own helpers (role headers and the like) here."""

    def h(self, role: str = "learner", sub: str | None = None, **claims: Any) -> dict[str, str]:
        """Headers with a signed token for ``role``."""
        return self.keys.headers(role, sub=sub, **claims)

    async def db(self) -> asyncpg.Connection:
        """A raw connection to the service's database (close it)."""
        return await asyncpg.connect(plain_url(self.database_url))


S = TypeVar("S", bound=ServiceClient)


@contextlib.asynccontextmanager
async def service_client(
    app: Any, keys: Keys, kind: type[S], database_url: str = "", port: int | None = None
) -> AsyncIterator[S]:
    """Serve ``app`` on a real port (``port`` or a free one) and yield a ``kind`` client to it."""
    async with serve(app, port) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield kind(client=client, app=app, keys=keys, database_url=database_url, base=base)


def kernel_app(database_url: str, keys: Keys, handlers: list[Any], **spec: Any) -> Any:
    """A bare app from the kernel's ``build_app`` (service "progress", no relay) serving ``handlers``,
    for testing kernel pieces without a service's routes."""
    from services.common.app import ServiceSpec, build_app
    from services.common.settings import ServiceSettings

    settings = ServiceSettings(
        service="progress",
        database_url=database_url,
        relay_enabled=False,
        jwks=str(keys.jwks_file),
        service_key_file=str(keys.private_file),
    )
    return build_app(settings, ServiceSpec("kernel test", "kernel test", handlers, **spec))
