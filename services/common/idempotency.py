"""``Idempotency-Key``: one header type, one validation, one store-and-replay.

Two ways a creating endpoint honours the header:

- **Store and replay** (any endpoint): the service keeps an ``idempotency_record`` table
  (``class IdempotencyRecord(IdempotencyFields, Base, table=True)``, created by a migration) and,
  in the transaction that writes, calls :func:`replay` first (return its response when there is
  one) and :func:`remember` with the answer last. A retry with the same key from the same caller
  gets the first status and body back with ``Idempotent-Replayed: true``; the same key for a
  different request is a 422; two concurrent requests with one key run one after the other.
- **Key on the resource** (one resource per key, e.g. a calibration run): a unique
  ``idempotency_key`` column; look the key up first and answer the existing resource with 200,
  and on a unique violation (a concurrent twin) answer the row that won.

Either way the handler takes ``idempotency_key: IdempotencyKey = None`` (documented in OpenAPI) and
passes it through :func:`idempotency_key`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Response
from litestar.params import HeaderParameter
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.db import timestamp
from services.common.errors import Problem

MAX_KEY_LENGTH = 200
HEADER = "Idempotency-Key"

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        description=f"Any unique string up to {MAX_KEY_LENGTH} characters; a retry with the same key "
        "returns the first answer.",
    ),
]


def idempotency_key(value: str | None) -> str | None:
    """The key to use (None when the header is absent or empty); a 400 when it is too long."""
    if not value:
        return None
    if len(value) > MAX_KEY_LENGTH:
        raise Problem(
            400,
            "invalid-idempotency-key",
            f"{HEADER} must be at most {MAX_KEY_LENGTH} characters.",
            errors=[{"field": HEADER, "source": "header", "message": f"longer than {MAX_KEY_LENGTH} characters"}],
        )
    return value


def request_hash(obj: Any) -> str:
    """A stable digest of a request body (a Struct, dict, ...), to tell a retry from a new request."""
    return hashlib.sha256(msgspec.json.encode(msgspec.to_builtins(obj), order="sorted")).hexdigest()


class IdempotencyFields(SQLModel):
    """Columns of a service's ``idempotency_record`` table: the first answer per caller and key."""

    principal: str = Field(primary_key=True, max_length=128)
    key: str = Field(primary_key=True, max_length=MAX_KEY_LENGTH)
    route: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status: int
    body: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = timestamp(now=True)


LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 42))"
FIND = "SELECT route, request_hash, status, body FROM idempotency_record WHERE principal = $1 AND key = $2"
INSERT = (
    "INSERT INTO idempotency_record (principal, key, route, request_hash, status, body, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, now())"
)


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


async def replay(conn: Any, principal: Any, key: str | None, route: str, digest: str) -> Response[Any] | None:
    """The stored answer to this caller's earlier request with ``key``, if any (asyncpg ``conn``
    inside the writing transaction). Takes a transaction-scoped advisory lock on the key first,
    so a concurrent twin waits and then replays this request's answer."""
    key = idempotency_key(key)
    if key is None:
        return None
    await conn.execute(LOCK, f"{principal.sub}\x1f{key}")
    row = await conn.fetchrow(FIND, principal.sub, key)
    if row is None:
        return None
    if row["route"] != route or row["request_hash"] != digest:
        raise Problem(
            422,
            "idempotency-key-reused",
            f"This {HEADER} was already used for a different request; use a new key for a new request.",
        )
    return Response(_json(row["body"]), status_code=row["status"], headers={"Idempotent-Replayed": "true"})


async def remember(conn: Any, principal: Any, key: str | None, route: str, digest: str, status: int, body: Any) -> None:
    """Store the answer to a request with ``key`` (same transaction as the write it answers)."""
    key = idempotency_key(key)
    if key is None:
        return
    encoded = msgspec.json.encode(msgspec.to_builtins(body)).decode()
    await conn.execute(INSERT, principal.sub, key, route, digest, status, encoded)


__all__ = [
    "HEADER",
    "IdempotencyFields",
    "IdempotencyKey",
    "idempotency_key",
    "remember",
    "replay",
    "request_hash",
]
