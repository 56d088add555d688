"""Database plumbing: per-service SQLModel bases, URLs, engines, sessions and the asyncpg pool.

Each service declares its tables on its own base, ``class Base(SQLModel, registry=service_registry())``,
so that its metadata, and therefore its migrations, never contain another service's tables.

Two ways in, one database: the SQLAlchemy engine (``session: AsyncSession`` in handlers) and, for
explicit SQL on hot paths, one asyncpg pool per service (:func:`open_pool`, started by the app
builder when ``ServiceSpec.asyncpg_pool`` is set; ``conn: asyncpg.Connection`` in handlers, or
``async with connect(app) as conn``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import DateTime, MetaData, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_registry() -> registry:
    """A registry with its own metadata and constraint naming convention. Each service declares
    ``class Base(SQLModel, registry=service_registry())`` so its tables stay in its own metadata."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(*, now: bool = False, **kw: Any) -> Any:
    """A ``timestamptz`` column: ``created_at: datetime = timestamp(now=True)`` (new rows get
    :func:`utcnow`), ``ended_at: datetime | None = timestamp(default=None)`` (nullable because the
    annotation is). Other keywords go to ``sqlmodel.Field``."""
    if now:
        kw.setdefault("default_factory", utcnow)
    return Field(sa_type=DateTime(timezone=True), **kw)


class Timestamps(SQLModel):
    """``created_at`` and ``updated_at`` for a new table: ``class Thing(Timestamps, Base, table=True)``
    (set ``updated_at`` in the statement that changes the row)."""

    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)


def uuid7() -> uuid.UUID:
    """A time-ordered UUIDv7 (RFC 9562), so public ids sort by creation time."""
    import os
    import time

    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def async_url(url: str) -> URL:
    """Accept ``postgresql://`` or ``postgres://`` URLs and use asyncpg for them."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in {"postgresql", "postgresql+asyncpg", "postgresql+psycopg"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def plain_url(url: str | URL) -> str:
    """A libpq-style URL for asyncpg.connect."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def ensure_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server behind ``admin_url`` if it does not exist."""
    conn = await asyncpg.connect(plain_url(admin_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()


def resolve_database_url(service: str, configured: str) -> str:
    """The configured URL, or a database ``lms_<service>`` on the embedded server."""
    if configured:
        return configured
    from services.common import embedded

    admin = embedded.server_url()
    asyncio.run(ensure_database(admin, f"lms_{service}"))
    return with_database(admin, f"lms_{service}")


def asyncpg_options(*, statement_timeout: float = 0.0, connect_timeout: float = 60.0) -> dict[str, Any]:
    """asyncpg connection options: UTC, a server-side statement timeout, and client-side timeouts
    for connecting and for each command (which also end a wait on a frozen server). 0 = none."""
    server: dict[str, str] = {"timezone": "UTC"}
    options: dict[str, Any] = {"server_settings": server, "timeout": connect_timeout}
    if statement_timeout > 0:
        server["statement_timeout"] = str(int(statement_timeout * 1000))
        options["command_timeout"] = statement_timeout + 2.0
    return options


def pool_options(settings: Any) -> dict[str, Any]:
    """``asyncpg_options`` from a service's settings, for ``asyncpg.create_pool``."""
    return asyncpg_options(
        statement_timeout=settings.db_statement_timeout_seconds, connect_timeout=settings.db_connect_timeout_seconds
    )


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    acquire_timeout: float = 30.0,
    statement_timeout: float = 0.0,
    connect_timeout: float = 60.0,
    **kw: Any,
) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=acquire_timeout,
        pool_pre_ping=False,
        connect_args=asyncpg_options(statement_timeout=statement_timeout, connect_timeout=connect_timeout),
        **kw,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def schema_revision(engine: AsyncEngine, service: str) -> str | None:
    async with engine.connect() as conn:
        row = await conn.execute(text(f"SELECT version_num FROM {version_table(service)}"))  # noqa: S608
        value = row.scalar()
        return str(value) if value is not None else None


def _json_out(value: Any) -> str:
    """JSON/JSONB parameters: text is taken as already-encoded JSON (as the SQLAlchemy engine
    does, so ``$1::jsonb`` with ``msgspec.json.encode(x).decode()`` keeps working); anything else
    is encoded with msgspec."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode()
    return msgspec.json.encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Every pool connection decodes ``json``/``jsonb`` columns to Python values."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=_json_out, decoder=msgspec.json.decode, format="text"
        )


async def reset_connection(conn: asyncpg.Connection) -> None:
    """On release: roll back only if a transaction was left open (a cancelled request). No code
    keeps session state on pool connections, so asyncpg's full reset (one more round trip on every
    release, measured on the placement answer path) is not needed."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def open_pool(
    url: str | URL, *, max_size: int, min_size: int = 1, options: dict[str, Any] | None = None
) -> asyncpg.Pool:
    """The service's asyncpg pool: UTC sessions, JSON(B) decoded, a cheap reset on release;
    ``options`` (see :func:`pool_options`) bound connecting and statements."""
    return await asyncpg.create_pool(
        plain_url(url),
        min_size=min(min_size, max_size),
        max_size=max_size,
        **(options or asyncpg_options()),
        init=init_connection,
        reset=reset_connection,
    )


def acquire_timeout(app: Any) -> float | None:
    """How long a request waits for a pool connection before it is answered 503."""
    settings = getattr(app.state, "settings", None)
    return getattr(settings, "db_acquire_timeout_seconds", None)


@asynccontextmanager
async def connect(app: Any, *, transaction: bool = True) -> AsyncIterator[asyncpg.Connection]:
    """A connection from ``app.state.pool``, inside a transaction unless told otherwise (it
    commits when the block exits normally and rolls back on any exception)."""
    async with app.state.pool.acquire(timeout=acquire_timeout(app)) as conn:
        if not transaction:
            yield conn
            return
        async with conn.transaction():
            yield conn


async def provide_connection(request: Any) -> AsyncIterator[asyncpg.Connection]:
    """The ``conn`` dependency: a pool connection held for the request, no transaction opened
    (``async with conn.transaction():`` where the handler writes)."""
    async with request.app.state.pool.acquire(timeout=acquire_timeout(request.app)) as conn:
        yield conn
