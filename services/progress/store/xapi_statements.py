"""xAPI statements: store a batch (conflicts, voiding, canonical activities, attachments and the
module progress of officials, in one transaction) and query them by filter keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from services.common.errors import Problem
from services.common.moments import out_of_window
from services.progress.domain.events import event_hash
from services.progress.domain.xapi import statements as st
from services.progress.domain.xapi.intake import Prepared
from services.progress.domain.xapi.validate import VOIDED
from services.progress.schemas import EventIn
from services.progress.store.base import Conn
from services.progress.store.curricula import published
from services.progress.store.events import recompute_officials, store_events

EXISTING = "SELECT id, content_hash FROM xapi_statement WHERE id = ANY($1::uuid[])"
TARGETS = """
SELECT id, verb_id, keys, statement -> 'authority' AS authority FROM xapi_statement WHERE id = ANY($1::uuid[])
"""
# The 64-bit hash of an activity IRI that keys ``xapi_statement_activity`` (also written out in
# INSERT and in the migration that made the table).
ACTIVITY_HASH = "('x' || left(md5({}), 16))::bit(64)::bigint"
# One statement for a whole batch, with the rows of its activities; each row's keys travel as a
# JSON array (arrays of arrays must be rectangular in PostgreSQL, the rows' key lists are not).
INSERT = """
WITH inserted AS (
  INSERT INTO xapi_statement (id, stored, timestamp, official_id, verb_id, keys, statement, content_hash, voided, voids)
  SELECT id, $2, ts, official, verb, ARRAY(SELECT jsonb_array_elements_text(k::jsonb)), st::jsonb, h, false, v
  FROM unnest($1::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[])
       AS t(id, ts, official, verb, k, st, h, v)
  ON CONFLICT (id) DO NOTHING
  RETURNING id, stored, seq, keys
), activities AS (
  INSERT INTO xapi_statement_activity (activity, stored, seq, direct)
  SELECT ('x' || left(md5(substr(k, 11)), 16))::bit(64)::bigint, stored, seq,
         keys @> ARRAY['activity:' || substr(k, 11)]
  FROM inserted, unnest(keys) AS k
  WHERE k LIKE 'ractivity:%'
  ON CONFLICT DO NOTHING
)
SELECT id FROM inserted
"""
VOID = """
UPDATE xapi_statement SET voided = true WHERE id = ANY($1::uuid[]) AND verb_id <> $2 AND NOT voided
RETURNING id, official_id
"""
VOID_EVENTS = "UPDATE learning_event SET voided_at = coalesce(voided_at, now()) WHERE event_id = ANY($1::text[])"
ACTIVITIES_FOR_UPDATE = "SELECT id, definition FROM xapi_activity WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"
UPSERT_ACTIVITY = """
INSERT INTO xapi_activity (id, definition) VALUES ($1, $2::jsonb)
ON CONFLICT (id) DO UPDATE SET definition = excluded.definition
"""
INSERT_ATTACHMENT = """
INSERT INTO xapi_attachment (sha2, content_type, content) VALUES ($1, $2, $3) ON CONFLICT (sha2) DO NOTHING
"""
ONE = """
SELECT statement::text AS s, stored FROM xapi_statement
WHERE id = $1 AND voided = $2 AND ($3::text IS NULL OR keys @> ARRAY[$3::text])
"""
PAGE = """
SELECT s.stored, s.seq, {statement} AS s FROM {source} WHERE {where}
ORDER BY {by}.stored {order}, {by}.seq {order} LIMIT ${limit}
"""
NOW = "SELECT now()"
# Every statement stored at or before this moment is visible to a query that starts after it: a
# statement's ``stored`` is its transaction's start, so no transaction still open has stored one
# earlier than the oldest open transaction of this database.
CONSISTENT = """
SELECT least(now(), min(xact_start)) - interval '1 microsecond' FROM pg_stat_activity
WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
"""
CANONICAL = "SELECT id, definition::text AS d FROM xapi_activity WHERE id = ANY($1::text[])"
ACTIVITY = "SELECT definition::text FROM xapi_activity WHERE id = $1"
ATTACHMENTS = "SELECT sha2, content_type, content FROM xapi_attachment WHERE sha2 = ANY($1::text[])"


def conflict(ids: list[str]) -> Problem:
    return Problem(
        409,
        "statement-conflict",
        f"Statement {ids[0]} already exists with different content; statements are immutable.",
        errors=[{"id": i, "reason": "exists with different content"} for i in ids],
    )


def invalid(detail: str) -> Problem:
    return Problem(400, "invalid-statement", detail)


async def save(
    conn: Conn,
    batch: list[Prepared],
    stored: datetime,
    attachments: dict[str, tuple[str, bytes]],
    *,
    voider: dict[str, Any] | None,
) -> list[str]:
    """Store a batch in the caller's transaction. ``voider`` is the authority a learner's token
    stands for: it may void only statements whose authority is the same; None for service and
    admin. Returns the officials whose progress was recomputed and any completed levels."""
    ids = [b.id for b in batch]
    existing = {r["id"]: r["content_hash"] for r in await conn.fetch(EXISTING, ids)}
    clashes = [str(b.id) for b in batch if b.id in existing and existing[b.id] != b.digest]
    if clashes:
        raise conflict(clashes)
    new = [b for b in batch if b.id not in existing]
    refs = {t for b in new if (t := st.ref_target(b.statement))}
    targets = {str(r["id"]): r for r in await conn.fetch(TARGETS, [uuid.UUID(t) for t in refs])} if refs else {}
    for b in new:
        target = st.ref_target(b.statement)
        row = targets.get(target) if target else None
        if b.statement["verb"]["id"] == VOIDED and row is not None:
            if row["verb_id"] == VOIDED:
                raise invalid(f"statement {target} is itself a voiding statement and cannot be voided")
            if voider is not None and engine_json(row["authority"]) != voider:
                raise Problem(403, "forbidden", "You may void only statements recorded with your own authority.")
        inherited = list(row["keys"]) if row is not None else []
        b.keys = st.filter_keys(b.statement, inherited)
        if target and row is None:
            same_batch = next((x for x in new if str(x.id) == target and x.keys), None)
            if same_batch is not None:
                if b.statement["verb"]["id"] == VOIDED and same_batch.statement["verb"]["id"] == VOIDED:
                    raise invalid(f"statement {target} is itself a voiding statement and cannot be voided")
                b.keys = st.filter_keys(b.statement, same_batch.keys)
    inserted = await conn.fetch(
        INSERT,
        [b.id for b in new],
        stored,
        [b.timestamp for b in new],
        [b.official for b in new],
        [b.statement["verb"]["id"] for b in new],
        [msgspec.json.encode(b.keys).decode() for b in new],
        [msgspec.json.encode(b.statement).decode() for b in new],
        [b.digest for b in new],
        [
            uuid.UUID(t) if b.statement["verb"]["id"] == VOIDED and (t := st.ref_target(b.statement)) else None
            for b in new
        ],
    )
    if len(inserted) < len(new):  # a concurrent request stored some of these ids first
        raced = {r["id"] for r in inserted}
        again = {
            r["id"]: r["content_hash"] for r in await conn.fetch(EXISTING, [b.id for b in new if b.id not in raced])
        }
        clashes = [str(b.id) for b in new if b.id not in raced and again.get(b.id) != b.digest]
        if clashes:
            raise conflict(clashes)
        new = [b for b in new if b.id in raced]
    await _canonical_activities(conn, new)
    for digest, (content_type, content) in attachments.items():
        await conn.execute(INSERT_ATTACHMENT, digest, content_type, content)
    voided_targets = [
        uuid.UUID(t) for b in new if b.statement["verb"]["id"] == VOIDED and (t := st.ref_target(b.statement))
    ]
    flagged: list[str] = []
    if voided_targets:
        voided = await conn.fetch(VOID, voided_targets, VOIDED)
        if voided:
            await conn.execute(VOID_EVENTS, [f"xapi:{r['id']}" for r in voided])
            flagged = sorted({r["official_id"] for r in voided if r["official_id"]})
    completed = await _feed_progress(conn, [b for b in new if b.fact is not None], flagged)
    return completed


def engine_json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


async def _canonical_activities(conn: Conn, batch: list[Prepared]) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for b in batch:
        for activity in st.activities_of(b.statement):
            latest[activity["id"]] = st.merge_definition(latest.get(activity["id"]), activity["definition"])
    if not latest:
        return
    known = {r["id"]: engine_json(r["definition"]) for r in await conn.fetch(ACTIVITIES_FOR_UPDATE, sorted(latest))}
    await conn.executemany(
        UPSERT_ACTIVITY,
        [(a, msgspec.json.encode(st.merge_definition(known.get(a), latest[a])).decode()) for a in sorted(latest)],
    )


async def _feed_progress(conn: Conn, facts: list[Prepared], flagged: list[str]) -> list[Any]:
    """Module progress of officials, through the learning-event path (event id ``xapi:<id>``)."""
    completed: list[Any] = []
    curriculum = await published(conn) if facts or flagged else None
    if curriculum is not None:
        events = [
            EventIn(
                id=f"xapi:{b.id}",
                official_id=f.official,
                module=f.module,
                verb=f.verb,  # type: ignore[arg-type]
                occurred_at=f.occurred_at,
                score=f.score,
            )
            for b in facts
            if (f := b.fact) is not None
            and f.module in curriculum.modules
            # xAPI allows any timestamp: stored, but no learning event outside the believable window
            and not out_of_window(f.occurred_at)
        ]
        if events:
            _, completed = await store_events(conn, curriculum, events, [event_hash(e) for e in events], "xapi")
    if flagged:
        completed += (await recompute_officials(conn, flagged)).completed
    return completed


async def transaction_start(conn: Conn) -> datetime:
    """The start of the caller's transaction: the ``stored`` of the statements it writes."""
    value: datetime = await conn.fetchval(NOW)
    return value


async def consistent_through(conn: Conn) -> datetime:
    """X-Experience-API-Consistent-Through: ask before reading, outside a transaction."""
    value: datetime = await conn.fetchval(CONSISTENT)
    return value


async def one(conn: Conn, statement_id: uuid.UUID, *, voided: bool, own: str | None) -> tuple[str, datetime] | None:
    row = await conn.fetchrow(ONE, statement_id, voided, own)
    return None if row is None else (row["s"], row["stored"])


@dataclass
class Query:
    keys: list[str]
    since: datetime | None = None
    until: datetime | None = None
    ascending: bool = False
    after: tuple[datetime, int] | None = None  # (stored, seq) of the last row of the previous page
    limit: int = 100


def page_sql(query: Query) -> tuple[str, list[Any]]:
    """The page query and its arguments. Rows come in (stored, seq) order, walking an index in
    that order and stopping after ``limit + 1`` rows: ``ix_xapi_statement_stored`` (or the GIN
    index on ``keys`` for rare keys, as the planner chooses), or ``xapi_statement_activity`` when
    an activity is named. Every key is tested on the statement itself."""
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["NOT s.voided"]
    source, by, statement = "xapi_statement s", "s", "s.statement::text"
    keys = query.keys
    activity = next((k for k in keys if k.startswith(("activity:", "ractivity:"))), None)
    if activity is not None:
        # Walk the activity's rows in page order. Its key is tested in the select list, not in
        # WHERE: a statement whose activity only shares the hash comes back as NULL (skipped, but
        # still a page row for ``more``), and the planner, not counting that test as a filter,
        # estimates the walk right and stops at the page's end instead of sorting every match.
        source = "xapi_statement_activity a JOIN xapi_statement s ON s.seq = a.seq"
        related, iri = activity.split(":", 1)
        where.append(f"a.activity = {ACTIVITY_HASH.format(arg(iri) + '::text')}")
        if related == "activity":
            where.append("a.direct")
        by, statement = "a", f"CASE WHEN {arg(activity)}::text = ANY(s.keys) THEN s.statement::text END"
        keys = [k for k in keys if k != activity]
    if keys:
        where.append(f"s.keys @> {arg(keys)}::text[]")
    if query.since is not None:
        where.append(f"{by}.stored > {arg(query.since)}")
    if query.until is not None:
        where.append(f"{by}.stored <= {arg(query.until)}")
    if query.after is not None:
        where.append(
            f"({by}.stored, {by}.seq) {'>' if query.ascending else '<'} ({arg(query.after[0])}, {arg(query.after[1])})"
        )
    limit = arg(query.limit + 1)[1:]
    sql = PAGE.format(
        statement=statement,
        source=source,
        where=" AND ".join(where),
        by=by,
        order="ASC" if query.ascending else "DESC",
        limit=limit,
    )
    return sql, args


async def page(conn: Conn, query: Query) -> list[tuple[datetime, int, str | None]]:
    """One page of unvoided statements (``limit + 1`` rows tell whether there is more; a row
    without its statement only shared an activity's hash: it moves the cursor, but is no match)."""
    sql, args = page_sql(query)
    return [(r["stored"], r["seq"], r["s"]) for r in await conn.fetch(sql, *args)]


async def canonical_definitions(conn: Conn, activity_ids: list[str]) -> dict[str, Any]:
    return {r["id"]: msgspec.json.decode(r["d"]) for r in await conn.fetch(CANONICAL, activity_ids)}


async def activity(conn: Conn, activity_id: str) -> dict[str, Any] | None:
    text = await conn.fetchval(ACTIVITY, activity_id)
    return None if text is None else dict(msgspec.json.decode(text))


async def attachment_contents(conn: Conn, digests: list[str]) -> list[tuple[str, str, bytes]]:
    return [(r["sha2"], r["content_type"], bytes(r["content"])) for r in await conn.fetch(ATTACHMENTS, digests)]
