"""xAPI documents (State, Activity Profile, Agent Profile): read, write under ETag
preconditions, merge JSON, delete. A document's scope is (kind, activity, agent, registration)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.common.db import utcnow
from services.common.errors import Problem
from services.progress.domain.xapi import documents as docs
from services.progress.store.base import Conn

ONE = """
SELECT content, content_type, etag, updated FROM xapi_document
WHERE kind = $1 AND activity_id = $2 AND agent = $3 AND registration = $4 AND doc_id = $5
"""
ONE_FOR_UPDATE = ONE + " FOR UPDATE"
IDS = """
SELECT doc_id FROM xapi_document
WHERE kind = $1 AND activity_id = $2 AND agent = $3 AND registration = $4 AND ($5::timestamptz IS NULL OR updated > $5)
ORDER BY doc_id
"""
UPSERT = """
INSERT INTO xapi_document (kind, activity_id, agent, registration, doc_id, content, content_type, etag, updated)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (kind, activity_id, agent, registration, doc_id)
DO UPDATE SET content = excluded.content, content_type = excluded.content_type, etag = excluded.etag,
              updated = excluded.updated
"""
DELETE_ONE = """
DELETE FROM xapi_document WHERE kind = $1 AND activity_id = $2 AND agent = $3 AND registration = $4 AND doc_id = $5
"""
DELETE_ALL = "DELETE FROM xapi_document WHERE kind = $1 AND activity_id = $2 AND agent = $3 AND registration = $4"
LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"


@dataclass(frozen=True)
class Scope:
    kind: str  # state | activity_profile | agent_profile
    activity_id: str = ""
    agent: str = ""
    registration: str = ""

    def args(self) -> tuple[str, str, str, str]:
        return self.kind, self.activity_id, self.agent, self.registration


@dataclass(frozen=True)
class Document:
    content: bytes
    content_type: str
    etag: str
    updated: datetime


async def get(conn: Conn, scope: Scope, doc_id: str) -> Document | None:
    row = await conn.fetchrow(ONE, *scope.args(), doc_id)
    return None if row is None else Document(bytes(row["content"]), row["content_type"], row["etag"], row["updated"])


async def ids(conn: Conn, scope: Scope, since: datetime | None) -> list[str]:
    return [r["doc_id"] for r in await conn.fetch(IDS, *scope.args(), since)]


async def write(
    conn: Conn,
    scope: Scope,
    doc_id: str,
    content: bytes,
    content_type: str,
    *,
    merge: bool,
    if_match: str | None,
    if_none_match: str | None,
    overwrite: str,
) -> str:
    """PUT (replace) or POST (``merge``: JSON objects merged at the top level) in the caller's
    transaction under the ETag preconditions; answers the new ETag."""
    await conn.execute(LOCK, "|".join((*scope.args(), doc_id)))  # a first write of a new document races too
    row = await conn.fetchrow(ONE_FOR_UPDATE, *scope.args(), doc_id)
    check = docs.check_preconditions(
        row["etag"] if row else None, if_match, if_none_match, overwrite="free" if merge else overwrite
    )
    if check.status:
        kind = {412: "precondition-failed", 409: "conflict", 400: "precondition-required"}[check.status]
        raise Problem(check.status, kind, check.detail)
    if merge and row is not None:
        combined = docs.merged(bytes(row["content"]), row["content_type"], content, content_type)
        if combined is None:
            raise Problem(
                400, "not-json", "POST merges JSON objects only: the stored document and this one must both be JSON."
            )
        content, content_type = combined, docs.JSON
    tag = docs.etag(content)
    await conn.execute(UPSERT, *scope.args(), doc_id, content, content_type, tag, utcnow())
    return tag


async def delete(
    conn: Conn, scope: Scope, doc_id: str | None, *, if_match: str | None, if_none_match: str | None
) -> None:
    if doc_id is None:
        await conn.execute(DELETE_ALL, *scope.args())
        return
    row = await conn.fetchrow(ONE_FOR_UPDATE, *scope.args(), doc_id)
    check = docs.check_preconditions(row["etag"] if row else None, if_match, if_none_match, overwrite="free")
    if check.status:
        raise Problem(check.status, "precondition-failed", check.detail)
    await conn.execute(DELETE_ONE, *scope.args(), doc_id)
