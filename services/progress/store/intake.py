"""Placement intake: idempotent on the result id (first 201, an identical replay 200 with the
same body, different content 409); the re-placement rule is in ``domain/intake.py``."""

from __future__ import annotations

from datetime import datetime

import msgspec

from services.common.errors import Problem
from services.progress.db import jsonb
from services.progress.domain import intake as rules
from services.progress.domain.path import DONE, activity_levels
from services.progress.schemas import PlacementIn, PlacementOut
from services.progress.store import curricula, progress
from services.progress.store.base import Conn, Db, as_json

CREATE_OFFICIAL = """
INSERT INTO official (id, name, org, placed_level, current_level, placement_result_id, placement_completed_at,
                      created_at, updated_at)
VALUES ($1, $2, $3, $4, $4, $5, $6, now(), now())
ON CONFLICT (id) DO NOTHING
RETURNING id
"""
LOCK_OFFICIAL = "SELECT placement_completed_at FROM official WHERE id = $1 FOR UPDATE"
RECEIVED = "SELECT content_hash, response FROM placement_result WHERE result_id = $1"
ACTIVITY = """
SELECT level FROM level_completion WHERE official_id = $1
UNION SELECT level FROM enrolment WHERE official_id = $1 AND status IN ('enrolled', 'waitlisted')
"""
MODULES_WITH_PROGRESS = "SELECT module_code FROM module_progress WHERE official_id = $1"
COMPLETED_LEVELS = "SELECT level FROM level_completion WHERE official_id = $1"
REPLACE = """
UPDATE official SET name = $2, org = $3, placed_level = $4, current_level = $5, placement_result_id = $6,
       placement_completed_at = $7, updated_at = now()
WHERE id = $1
"""
RENAME = "UPDATE official SET name = $2, org = $3, updated_at = now() WHERE id = $1"
PATH = "SELECT placed_level, current_level FROM official WHERE id = $1"
RECORD = """
INSERT INTO placement_result (result_id, official_id, level, ability, standard_error, completed_at, content_hash,
                              applied, response, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, now())
"""


async def _activity(conn: Conn, official_id: str) -> set[int]:
    curriculum = await curricula.published(conn)
    levels = [r["level"] for r in await conn.fetch(ACTIVITY, official_id)]
    modules = [r["module_code"] for r in await conn.fetch(MODULES_WITH_PROGRESS, official_id)] if curriculum else []
    return activity_levels(curriculum, levels, modules)


async def _decide(conn: Conn, data: PlacementIn, result_id: str, applied_at: datetime) -> rules.Decision:
    """Apply the re-placement rule to an official who already has a path, updating it if it applies."""
    off = data.official
    decision = rules.stale(data.completed_at, applied_at) or rules.replace_path(
        data.level, await _activity(conn, off.id)
    )
    if not decision.applied:
        await conn.execute(RENAME, off.id, off.name, off.org)
        return decision
    completed = {r["level"] for r in await conn.fetch(COMPLETED_LEVELS, off.id)}
    current = rules.current_level(data.level, completed)
    await conn.execute(REPLACE, off.id, off.name, off.org, data.level, current, result_id, data.completed_at)
    return decision


async def receive(db: Db, result_id: str, data: PlacementIn) -> tuple[PlacementOut, bool]:
    """Record a placement result and create or re-place the official's path. Returns the answer
    and whether this call created it (False: a replay of the same result)."""
    if not 1 <= len(result_id) <= 128:
        raise Problem(400, "invalid-result-id", "The result id must be 1-128 characters.")
    digest = rules.placement_hash(data)
    off = data.official
    async with db.transaction() as conn:
        created = await conn.fetchval(
            CREATE_OFFICIAL, off.id, off.name, off.org, data.level, result_id, data.completed_at
        )
        applied_at = await conn.fetchval(LOCK_OFFICIAL, off.id)
        existing = await conn.fetchrow(RECEIVED, result_id)
        if existing is not None:
            if existing["content_hash"] != digest:
                raise Problem(
                    409,
                    "placement-conflict",
                    f"Placement result {result_id} was already received with different content; "
                    "a result is immutable, send a new result id.",
                    result_id=result_id,
                )
            return msgspec.convert(jsonb(existing["response"]), PlacementOut), False
        decision = rules.first_path(data.level) if created else await _decide(conn, data, result_id, applied_at)
        completed = []
        if decision.applied:
            curriculum = await curricula.published(conn)
            if curriculum is not None:
                completed = (await progress.evaluate(conn, curriculum, [off.id])).completed
        path = await conn.fetchrow(PATH, off.id)
        out = PlacementOut(
            result_id=result_id,
            official_id=off.id,
            level=data.level,
            applied=decision.applied,
            placed_level=path["placed_level"],
            current_level=path["current_level"] if path["current_level"] < DONE else None,
            detail=decision.detail,
        )
        await conn.execute(
            RECORD,
            result_id,
            off.id,
            data.level,
            data.ability,
            data.standard_error,
            data.completed_at,
            digest,
            decision.applied,
            as_json(out),
        )
    db.wake_relay(completed)
    return out, True
