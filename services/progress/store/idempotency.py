"""Idempotency-Key records: the first answer to a request, replayed to its retries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from services.common.errors import Problem
from services.progress.db import jsonb
from services.progress.store.base import Conn, as_json

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 42))"
FIND = "SELECT route, request_hash, status, body FROM idempotency_record WHERE principal = $1 AND key = $2"
REMEMBER = """
INSERT INTO idempotency_record (principal, key, route, request_hash, status, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, now())
"""


def body_hash(obj: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(msgspec.to_builtins(obj), order="sorted")).hexdigest()


@dataclass(frozen=True)
class Key:
    """A caller's ``Idempotency-Key`` for one request (route and hash of what was asked)."""

    principal: str
    key: str | None
    route: str
    request_hash: str


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


async def replay(conn: Conn, k: Key) -> Replay | None:
    """The stored answer to this key, if any. Takes a transaction-scoped advisory lock on the
    key first, so concurrent retries run one after the other and the second replays the first."""
    if not k.key:
        return None
    if len(k.key) > 200:
        raise Problem(400, "invalid-idempotency-key", "Idempotency-Key must be at most 200 characters.")
    await conn.execute(LOCK, f"{k.principal}\x1f{k.key}")
    row = await conn.fetchrow(FIND, k.principal, k.key)
    if row is None:
        return None
    if row["route"] != k.route or row["request_hash"] != k.request_hash:
        raise Problem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was already used for a different request; use a new key for a new request.",
        )
    return Replay(row["status"], jsonb(row["body"]))


async def remember(conn: Conn, k: Key, status: int, body: Any) -> None:
    if k.key:
        await conn.execute(REMEMBER, k.principal, k.key, k.route, k.request_hash, status, as_json(body))
