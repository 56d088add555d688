"""Helpers shared by the progress controllers."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from litestar import Request, Response

from services.common.auth import Principal
from services.common.errors import Problem
from services.progress.db import jsonb
from services.progress.engine import Conn


def wake_relay(request: Request[Any, Any, Any]) -> None:
    relay = getattr(request.app.state, "relay", None)
    if relay is not None:
        relay.wake()


def body_hash(obj: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(msgspec.to_builtins(obj), order="sorted")).hexdigest()


async def idempotent_replay(
    conn: Conn, principal: Principal, key: str | None, route: str, request_hash: str
) -> Response[Any] | None:
    """The stored answer to a request with this ``Idempotency-Key`` from this caller, if any.

    Takes a transaction-scoped advisory lock on the key first, so two concurrent requests with
    the same key run one after the other and the second replays the first's answer."""
    if not key:
        return None
    if len(key) > 200:
        raise Problem(400, "invalid-idempotency-key", "Idempotency-Key must be at most 200 characters.")
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 42))", f"{principal.sub}\x1f{key}")
    row = await conn.fetchrow(
        "SELECT route, request_hash, status, body FROM idempotency_record WHERE principal = $1 AND key = $2",
        principal.sub,
        key,
    )
    if row is None:
        return None
    if row["route"] != route or row["request_hash"] != request_hash:
        raise Problem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was already used for a different request; use a new key for a new request.",
        )
    return Response(
        jsonb(row["body"]),
        status_code=row["status"],
        headers={"Idempotent-Replayed": "true"},
    )


async def remember(
    conn: Conn, principal: Principal, key: str | None, route: str, request_hash: str, status: int, body: Any
) -> None:
    if not key:
        return
    await conn.execute(
        "INSERT INTO idempotency_record (principal, key, route, request_hash, status, body, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb, now())",
        principal.sub,
        key,
        route,
        request_hash,
        status,
        msgspec.json.encode(msgspec.to_builtins(body)).decode(),
    )


def bounded_limit(limit: int, maximum: int = 500) -> int:
    if limit < 1 or limit > maximum:
        raise Problem(400, "invalid-limit", f"limit must be between 1 and {maximum}.")
    return limit
