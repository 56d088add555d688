"""Learning events: batches of up to 1,000, atomic, idempotent per event id, merged forward only.

One statement inserts the new events (``ON CONFLICT DO NOTHING``) and merges them into the
per-(official, module) progress rows (earliest times, best score), so arrival order never
matters. Events whose id already exists are compared by content hash: equal is a no-op, different
is a 409 naming every such event, and the whole batch rolls back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import JSONBody, Parameter

from services.common.auth import Principal, allow
from services.common.errors import Problem, not_found
from services.common.pagination import Page, decode_cursor, page
from services.common.types import is_aware
from services.progress import engine
from services.progress.api.util import wake_relay
from services.progress.db import connect, iso
from services.progress.schemas import BatchOut, EventBatch, EventIn, LevelDone, WaiverIn, WaiverOut

MERGE_SQL = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::timestamptz[],
                         $7::text[])
           AS t(event_id, official_id, module_code, verb, score, occurred_at, content_hash)
), ins AS (
    INSERT INTO learning_event (event_id, official_id, module_code, verb, score, occurred_at, content_hash,
                                source, received_at)
    SELECT event_id, official_id, module_code, verb, score, occurred_at, content_hash, $8, now() FROM input
    ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING official_id, module_code, verb, score, occurred_at
), merged AS (
    INSERT INTO module_progress AS p (official_id, module_code, started_at, completed_at, passed_at, best_score,
                                      attended_at, best_pass_score, event_count, updated_at)
    SELECT official_id, module_code, min(occurred_at),
           min(occurred_at) FILTER (WHERE verb = 'completed'),
           min(occurred_at) FILTER (WHERE verb = 'passed'),
           max(score),
           min(occurred_at) FILTER (WHERE verb = 'attended'),
           max(score) FILTER (WHERE verb = 'passed'),
           count(*), now()
    FROM ins GROUP BY official_id, module_code
    ORDER BY official_id, module_code  -- one lock order for every batch, so batches do not deadlock
    ON CONFLICT (official_id, module_code) DO UPDATE SET
        started_at = LEAST(p.started_at, EXCLUDED.started_at),
        completed_at = LEAST(p.completed_at, EXCLUDED.completed_at),
        passed_at = LEAST(p.passed_at, EXCLUDED.passed_at),
        best_score = GREATEST(p.best_score, EXCLUDED.best_score),
        best_pass_score = GREATEST(p.best_pass_score, EXCLUDED.best_pass_score),
        attended_at = LEAST(p.attended_at, EXCLUDED.attended_at),
        event_count = p.event_count + EXCLUDED.event_count,
        updated_at = now()
    RETURNING p.official_id, p.module_code, p.completed_at, p.passed_at, p.best_score, p.attended_at,
              p.best_pass_score
)
SELECT (SELECT count(*) FROM ins) AS inserted,
       (SELECT coalesce(json_agg(merged), '[]') FROM merged)::text AS merged
"""


# Verbs a learner's own token may not assert about themselves (self-certification).
TRUSTED_VERBS = frozenset({"passed", "failed", "attended"})


class MergedRow(msgspec.Struct):
    official_id: str
    module_code: str
    completed_at: datetime | None
    passed_at: datetime | None
    best_score: float | None
    attended_at: datetime | None
    best_pass_score: float | None


_merged = msgspec.json.Decoder(list[MergedRow])


def event_hash(e: EventIn) -> str:
    return engine.content_hash(
        e.official_id, e.module, e.verb, None if e.score is None else repr(float(e.score)), iso(e.occurred_at)
    )


async def ingest(
    request: Request[Any, Any, Any], principal: Principal, events: list[EventIn], source: str = "api"
) -> BatchOut:
    """Validate, store and merge a batch atomically; evaluate level completion where it can change."""
    errors: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    for i, e in enumerate(events):
        if e.id in first:
            errors.append(
                {"index": i, "id": e.id, "reason": f"duplicate id in this batch (first at index {first[e.id]})"}
            )
        else:
            first[e.id] = i
    if errors:
        raise Problem(400, "duplicate-event-ids", "Each event id may appear once per batch.", errors=errors)
    for i, e in enumerate(events):
        if not is_aware(e.occurred_at):
            errors.append({"index": i, "id": e.id, "reason": "occurred_at needs a time zone (use UTC, ...Z)"})
        if e.score is not None and e.verb in ("started", "attended"):
            errors.append({"index": i, "id": e.id, "reason": f"a {e.verb} event carries no score"})
    if not principal.has("admin", "service", "instructor"):
        errors += [
            {"index": i, "id": e.id, "reason": "learners may only send their own events"}
            for i, e in enumerate(events)
            if e.official_id != principal.sub
        ]
        errors += [
            {
                "index": i,
                "id": e.id,
                "reason": f"a learner cannot report {e.verb}: assessment results and attendance come from "
                "the assessment service, an instructor or an admin",
            }
            for i, e in enumerate(events)
            if e.official_id == principal.sub and e.verb in TRUSTED_VERBS
        ]
    hashes = [event_hash(e) if is_aware(e.occurred_at) else "" for e in events]
    async with connect(request.app) as conn:
        curriculum = await engine.published(conn)
        if curriculum is None:
            raise Problem(409, "no-published-curriculum", "No curriculum is published; events cannot be placed.")
        errors += [
            {"index": i, "id": e.id, "reason": f"unknown module {e.module} in curriculum {curriculum.version}"}
            for i, e in enumerate(events)
            if e.module not in curriculum.modules
        ]
        if principal.has("instructor") and not principal.has("admin", "service"):
            errors += await untaught(conn, principal.sub, curriculum, events)
        if errors:
            errors.sort(key=lambda x: x["index"])
            raise Problem(422, "invalid-events", "No event was stored: fix every listed event.", errors=errors)
        inserted, completed = await store_events(conn, curriculum, events, hashes, source)
    if completed:
        wake_relay(request)
    return BatchOut(
        accepted=inserted,
        duplicates=len(events) - inserted,
        completed_levels=[LevelDone(o, lv, at) for o, lv, at in completed],
    )


TAUGHT_SQL = (
    "SELECT DISTINCT e.official_id, s.level FROM enrolment e JOIN cohort_session s ON s.id = e.session_id "
    "WHERE s.instructor_id = $1 AND e.status = 'enrolled' AND e.official_id = ANY($2::text[])"
)


async def untaught(
    conn: engine.Conn, instructor: str, curriculum: engine.Curriculum, events: list[EventIn]
) -> list[dict[str, Any]]:
    """Errors for the events an instructor may not record: an instructor records only for officials
    enrolled in a session they teach, and only for modules of that session's level."""
    rows = await conn.fetch(TAUGHT_SQL, instructor, sorted({e.official_id for e in events}))
    taught = {(r["official_id"], r["level"]) for r in rows}
    officials = {official for official, _ in taught}
    errors = []
    for i, e in enumerate(events):
        if e.official_id not in officials:
            reason = "instructors may only record results for officials they teach"
        elif e.module in curriculum.modules and (e.official_id, curriculum.level_of(e.module)) not in taught:
            reason = f"module {e.module} is not in a level you teach this official"
        else:
            continue
        errors.append({"index": i, "id": e.id, "reason": reason})
    return errors


async def store_events(
    conn: engine.Conn, curriculum: engine.Curriculum, events: list[EventIn], hashes: list[str], source: str
) -> tuple[int, list[tuple[str, int, datetime]]]:
    """Insert and merge validated events in the caller's transaction; raise 409 on any event id
    already stored with different content. Returns (inserted, completed levels)."""
    row = await conn.fetchrow(
        MERGE_SQL,
        [e.id for e in events],
        [e.official_id for e in events],
        [e.module for e in events],
        [e.verb for e in events],
        [e.score for e in events],
        [e.occurred_at for e in events],
        hashes,
        source,
    )
    inserted: int = row["inserted"]
    if inserted < len(events):
        stored = dict(
            await conn.fetch(
                "SELECT event_id, content_hash FROM learning_event WHERE event_id = ANY($1::text[])",
                [e.id for e in events],
            )
        )
        conflicts = [
            {"index": i, "id": e.id, "reason": "an event with this id was already received with different content"}
            for i, e in enumerate(events)
            if stored.get(e.id, hashes[i]) != hashes[i]
        ]
        if conflicts:
            raise Problem(
                409,
                "event-conflict",
                f"Event {conflicts[0]['id']} was already received with different content; "
                "event ids are immutable. No event in this batch was stored.",
                errors=conflicts,
            )
    candidates = engine.might_complete(curriculum, [msgspec.structs.asdict(m) for m in _merged.decode(row["merged"])])
    completed = (await engine.advance(conn, curriculum, candidates)).completed if candidates else []
    return inserted, completed


class EventController(Controller):
    path = "/v1"
    tags = ["learning events"]

    @post("/events", guards=[allow("service", "admin", "instructor", "learner")], status_code=200)
    async def post_events(
        self, request: Request[Any, Any, Any], principal: Principal, data: JSONBody[EventBatch]
    ) -> BatchOut:
        """Ingest up to 1,000 learning events (started, completed, passed, failed, attended).
        Replays of known events are no-ops; the batch is all-or-nothing."""
        return await ingest(request, principal, data.events)

    @post("/events/{event_id:str}/void", guards=[allow("admin")], status_code=200)
    async def void(self, request: Request[Any, Any, Any], event_id: str) -> dict[str, Any]:
        """Void a recorded event and recompute the official's progress from the remaining events.
        A completed level that no longer holds is flagged for review, not revoked."""
        async with connect(request.app) as conn:
            official_id = await conn.fetchval(
                "UPDATE learning_event SET voided_at = coalesce(voided_at, now()) WHERE event_id = $1 "
                "RETURNING official_id",
                event_id,
            )
            if official_id is None:
                raise not_found("event", event_id)
            outcome = await recompute_officials(conn, [official_id])
        if outcome.completed:
            wake_relay(request)
        return {"event_id": event_id, "voided": True, "flagged": outcome.flagged}


async def recompute_officials(conn: engine.Conn, official_ids: list[str]) -> engine.Outcome:
    curriculum = await engine.published(conn)
    if curriculum is None:
        await engine.rebuild_progress(conn, official_ids)
        return engine.Outcome()
    return await engine.recompute(conn, curriculum, official_ids)


class AdminOfficialController(Controller):
    path = "/v1/officials/{official_id:str}"
    tags = ["admin"]

    @post("/waivers", guards=[allow("admin")], status_code=201)
    async def waive(
        self, request: Request[Any, Any, Any], principal: Principal, official_id: str, data: JSONBody[WaiverIn]
    ) -> WaiverOut:
        """Waive a module (``module:<code>``), the attendance threshold or the final assessment of a
        level for one official, with a recorded reason; the level is re-evaluated at once."""
        async with connect(request.app) as conn:
            if await conn.fetchval("SELECT 1 FROM official WHERE id = $1", official_id) is None:
                raise not_found("official", official_id)
            curriculum = await engine.published(conn)
            if data.target.startswith("module:") and curriculum is not None:
                code = data.target.removeprefix("module:")
                if curriculum.level_of(code) != data.level:
                    raise Problem(422, "unknown-module", f"Module {code} is not a module of level {data.level}.")
            row = await conn.fetchrow(
                "INSERT INTO waiver (official_id, level, target, reason, created_by, created_at) "
                "VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT DO NOTHING "
                "RETURNING official_id, level, target, reason, created_by, created_at",
                official_id,
                data.level,
                data.target,
                data.reason,
                principal.sub,
            )
            if row is None:
                raise Problem(409, "already-waived", f"{data.target} at level {data.level} is already waived.")
            completed = []
            if curriculum is not None:
                completed = (await engine.advance(conn, curriculum, [official_id])).completed
        if completed:
            wake_relay(request)
        return WaiverOut(**dict(row))

    @post("/recompute", guards=[allow("admin")], status_code=200)
    async def recompute(self, request: Request[Any, Any, Any], official_id: str) -> dict[str, Any]:
        """Rebuild the official's progress from stored events and re-evaluate every level."""
        async with connect(request.app) as conn:
            if await conn.fetchval("SELECT 1 FROM official WHERE id = $1", official_id) is None:
                raise not_found("official", official_id)
            outcome = await recompute_officials(conn, [official_id])
        if outcome.completed:
            wake_relay(request)
        return {"official_id": official_id, "levels_completed": len(outcome.completed), "flagged": outcome.flagged}

    @post("/levels/{level:int}/review", guards=[allow("admin")], status_code=200)
    async def resolve_review(self, request: Request[Any, Any, Any], official_id: str, level: int) -> dict[str, Any]:
        """Clear a review flag after an admin has looked at it (the completion stands)."""
        async with connect(request.app) as conn:
            done = await conn.fetchval(
                "UPDATE level_completion SET needs_review = false WHERE official_id = $1 AND level = $2 "
                "RETURNING level",
                official_id,
                level,
            )
        if done is None:
            raise not_found("completed level", f"{official_id}/{level}")
        return {"official_id": official_id, "level": level, "needs_review": False}


class ReviewOut(msgspec.Struct):
    official_id: str
    level: int
    completed_at: datetime
    curriculum_version: str
    certificate_serial: str | None
    review_reason: str | None
    flagged_at: datetime | None


@get("/v1/reviews", guards=[allow("admin")], tags=["admin"])
async def reviews(
    request: Request[Any, Any, Any],
    limit: int = Parameter(default=100, ge=1, le=500),
    cursor: str | None = Parameter(default=None),
) -> Page[ReviewOut]:
    """Completed levels flagged by recomputation, oldest flag first (certificates are never
    revoked automatically; an admin decides). Keyset-paged with ``next_cursor``."""
    key = decode_cursor(cursor)
    after: list[Any] = ["", "", -1]
    if key is not None:
        try:
            after = [datetime.fromisoformat(key[0]), str(key[1]), int(key[2])]
        except (TypeError, ValueError, IndexError) as exc:
            raise Problem(400, "invalid-cursor", "The cursor is not one this service issued.") from exc
    async with connect(request.app, transaction=False) as conn:
        rows = await conn.fetch(
            "SELECT official_id, level, completed_at, curriculum_version, certificate_serial, review_reason, "
            "flagged_at FROM level_completion WHERE needs_review "
            "AND ($1::timestamptz IS NULL OR (flagged_at, official_id, level) > ($1, $2, $3)) "
            "ORDER BY flagged_at, official_id, level LIMIT $4",
            after[0] or None,
            after[1],
            after[2],
            limit + 1,
        )
    return page(
        [ReviewOut(**dict(r)) for r in rows],
        limit,
        lambda r: [r.flagged_at.isoformat() if r.flagged_at else "", r.official_id, r.level],
    )
