"""What every store module shares: the database handle handlers pass in, and one way to turn
rows into response Structs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import asyncpg
import msgspec
from litestar import Litestar

from services.common.db import connect

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
T = TypeVar("T")


@dataclass(frozen=True)
class Db:
    """The service's database as the store sees it: a transaction or a plain connection, and
    the workers to wake once a transaction committed work for them."""

    app: Litestar

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with connect(self.app) as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        async with connect(self.app, transaction=False) as conn:
            yield conn

    def wake_relay(self, work: object = True) -> None:
        """Wake the outbox relay when ``work`` (say, completed levels) is not empty."""
        relay = getattr(self.app.state, "relay", None)
        if work and relay is not None:
            relay.wake()

    def wake_recompute(self) -> None:
        """Wake this replica's recompute worker (``recompute.py``), if it runs one."""
        worker = getattr(self.app.state, "recompute", None)
        if worker is not None:
            worker.wake()


def one(row: Any, kind: type[T]) -> T:
    """A row (asyncpg Record or mapping) as a response Struct; columns are named as its fields."""
    return msgspec.convert(dict(row), kind)


def many(rows: Iterable[Any], kind: type[T]) -> list[T]:
    return [msgspec.convert(dict(r), kind) for r in rows]


def as_json(value: Any) -> str:
    """A value as JSON text for a ``$n::jsonb`` parameter."""
    return msgspec.json.encode(msgspec.to_builtins(value)).decode()
