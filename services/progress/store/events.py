"""Learning events (batches stored and merged atomically, voiding), waivers, recomputing one
official, and the completed levels flagged for review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.common.errors import Problem, not_found
from services.common.pagination import Page, decode_cursor, page
from services.progress.domain import events as rules
from services.progress.domain.curriculum import Curriculum
from services.progress.domain.path import might_complete
from services.progress.schemas import BatchOut, EventIn, LevelDone, ReviewOut, WaiverIn, WaiverOut
from services.progress.store import curricula, progress
from services.progress.store.base import Conn, Db, many, one

TAUGHT = """
SELECT DISTINCT e.official_id, s.level FROM enrolment e JOIN cohort_session s ON s.id = e.session_id
WHERE s.instructor_id = $1 AND e.status = 'enrolled' AND e.official_id = ANY($2::text[])
"""
VOID = """
UPDATE learning_event SET voided_at = coalesce(voided_at, now()) WHERE event_id = $1
RETURNING official_id
"""
OFFICIAL_EXISTS = "SELECT 1 FROM official WHERE id = $1"
WAIVE = """
INSERT INTO waiver (official_id, level, target, reason, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT DO NOTHING
RETURNING official_id, level, target, reason, created_by, created_at
"""
RESOLVE_REVIEW = """
UPDATE level_completion SET needs_review = false WHERE official_id = $1 AND level = $2
RETURNING level
"""
REVIEWS = """
SELECT official_id, level, completed_at, curriculum_version, certificate_serial, review_reason, flagged_at
FROM level_completion
WHERE needs_review AND ($1::timestamptz IS NULL OR (flagged_at, official_id, level) > ($1, $2, $3))
ORDER BY flagged_at, official_id, level
LIMIT $4
"""


async def store_events(
    conn: Conn, curriculum: Curriculum, events: list[EventIn], hashes: list[str], source: str
) -> tuple[int, list[tuple[str, int, datetime]]]:
    """Insert and merge validated events in the caller's transaction; 409 (rolling the batch
    back) on any event id already stored with different content. Returns (inserted, completed
    levels); only officials whose merged rows now meet a required module are evaluated."""
    stored = await _store_events(conn, curriculum, events, hashes, source, checked=False)
    assert stored is not None  # unchecked: always stored
    return stored


async def _store_events(
    conn: Conn, curriculum: Curriculum, events: list[EventIn], hashes: list[str], source: str, *, checked: bool
) -> tuple[int, list[tuple[str, int, datetime]]] | None:
    """:func:`store_events`; when ``checked``, only if ``curriculum`` is still the published one
    (None, with nothing written, when it is not)."""
    row = await conn.fetchrow(
        progress.MERGE_EVENTS,
        [e.id for e in events],
        [e.official_id for e in events],
        [e.module for e in events],
        [e.verb for e in events],
        [e.score for e in events],
        [e.occurred_at for e in events],
        hashes,
        source,
        curriculum.id if checked else None,
    )
    if not row["current"]:
        return None
    inserted: int = row["inserted"]
    if inserted < len(events):
        stored = dict(await conn.fetch(progress.STORED_HASHES, [e.id for e in events]))
        rules.refuse_conflicts(events, hashes, stored)
    merged = progress.merged_rows.decode(row["merged"])
    candidates = might_complete(curriculum, ((m.official_id, m.module_code, m.progress()) for m in merged))
    completed = (await progress.evaluate(conn, curriculum, candidates)).completed if candidates else []
    return inserted, completed


async def _taught(conn: Conn, instructor: str, events: list[EventIn]) -> set[tuple[str, int]]:
    """(official, level) of every session the instructor teaches the batch's officials in."""
    rows = await conn.fetch(TAUGHT, instructor, sorted({e.official_id for e in events}))
    return {(r["official_id"], r["level"]) for r in rows}


def _problems(validate: Callable[[Curriculum | None], Curriculum], curriculum: Curriculum) -> bool:
    try:
        validate(curriculum)
    except Problem:
        return True
    return False


async def ingest(db: Db, events: list[EventIn], *, sub: str, roles: frozenset[str], source: str = "api") -> BatchOut:
    """Validate, store and merge a batch atomically; evaluate level completion where it can change.
    ``roles`` of the caller decide what it may report: learners only about themselves and not
    results; instructors only about officials they teach."""
    rules.refuse_duplicate_ids(events)
    trusted = bool(roles & {"admin", "service"})
    learner = None if trusted or "instructor" in roles else sub
    hashes = [rules.event_hash(e) for e in events]
    async with db.transaction() as conn:
        taught = await _taught(conn, sub, events) if "instructor" in roles and not trusted else None

        def validate(curriculum: Curriculum | None) -> Curriculum:
            if curriculum is None:
                raise Problem(409, "no-published-curriculum", "No curriculum is published; events cannot be placed.")
            errors = rules.batch_problems(
                events,
                learner=learner,
                modules=curriculum.modules,
                version=curriculum.version,
                taught=taught,
                level_of=curriculum.level_of,
            )
            if errors:
                raise Problem(422, "invalid-events", "No event was stored: fix every listed event.", errors=errors)
            return curriculum

        # Validate against the curriculum this process last saw published; the storing statement
        # itself checks it still is (one round trip fewer). When it is not, or the events do not
        # fit it, nothing was written: read the published one and validate again (the answer
        # always comes from the published curriculum).
        hint = curricula.last_published()
        stored = None
        if hint is not None and not _problems(validate, hint):
            stored = await _store_events(conn, hint, events, hashes, source, checked=True)
        if stored is None:
            curriculum = validate(await curricula.published(conn))
            stored = await _store_events(conn, curriculum, events, hashes, source, checked=False)
        assert stored is not None  # unchecked: always stored
        inserted, completed = stored
    db.wake_relay(completed)
    return BatchOut(
        accepted=inserted,
        duplicates=len(events) - inserted,
        completed_levels=[LevelDone(o, lv, at) for o, lv, at in completed],
    )


async def recompute_officials(conn: Conn, official_ids: list[str]) -> progress.Outcome:
    """Rebuild the officials' progress from their events and re-evaluate them (in the caller's
    transaction)."""
    return await progress.recompute(conn, await curricula.published(conn), official_ids)


async def void(db: Db, event_id: str) -> int:
    """Void an event and recompute its official; the number of completed levels flagged."""
    async with db.transaction() as conn:
        official_id = await conn.fetchval(VOID, event_id)
        if official_id is None:
            raise not_found("event", event_id)
        outcome = await recompute_officials(conn, [official_id])
    db.wake_relay(outcome.completed)
    return outcome.flagged


async def _official(conn: Conn, official_id: str) -> None:
    if await conn.fetchval(OFFICIAL_EXISTS, official_id) is None:
        raise not_found("official", official_id)


async def recompute_official(db: Db, official_id: str) -> progress.Outcome:
    async with db.transaction() as conn:
        await _official(conn, official_id)
        outcome = await recompute_officials(conn, [official_id])
    db.wake_relay(outcome.completed)
    return outcome


async def waive(db: Db, official_id: str, waiver: WaiverIn, by: str) -> WaiverOut:
    """Record a waiver and re-evaluate the official at once."""
    async with db.transaction() as conn:
        await _official(conn, official_id)
        curriculum = await curricula.published(conn)
        if waiver.target.startswith("module:") and curriculum is not None:
            code = waiver.target.removeprefix("module:")
            if curriculum.level_of(code) != waiver.level:
                raise Problem(422, "unknown-module", f"Module {code} is not a module of level {waiver.level}.")
        row = await conn.fetchrow(WAIVE, official_id, waiver.level, waiver.target, waiver.reason, by)
        if row is None:
            raise Problem(409, "already-waived", f"{waiver.target} at level {waiver.level} is already waived.")
        completed = (await progress.evaluate(conn, curriculum, [official_id])).completed if curriculum else []
    db.wake_relay(completed)
    return one(row, WaiverOut)


async def resolve_review(db: Db, official_id: str, level: int) -> None:
    async with db.transaction() as conn:
        done = await conn.fetchval(RESOLVE_REVIEW, official_id, level)
    if done is None:
        raise not_found("completed level", f"{official_id}/{level}")


def _after(cursor: str | None) -> list[Any]:
    key = decode_cursor(cursor)
    if key is None:
        return [None, "", -1]
    try:
        return [datetime.fromisoformat(key[0]), str(key[1]), int(key[2])]
    except (TypeError, ValueError, IndexError) as exc:
        raise Problem(400, "invalid-cursor", "The cursor is not one this service issued.") from exc


async def reviews(db: Db, limit: int, cursor: str | None) -> Page[ReviewOut]:
    """Completed levels flagged for review, oldest flag first, keyset-paged."""
    async with db.read() as conn:
        rows = many(await conn.fetch(REVIEWS, *_after(cursor), limit + 1), ReviewOut)
    return page(rows, limit, lambda r: [r.flagged_at.isoformat() if r.flagged_at else "", r.official_id, r.level])
