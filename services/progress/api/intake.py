"""Placement intake: ``PUT /v1/placements/{result_id}`` from the placement service.

Idempotent on the result id: the first call answers 201, an identical replay 200 with the same
body, a different body under the same id 409.

Re-placement rule: a result newer than the one applied (by ``completed_at``) re-places the
official at its level, unless the official already has learning activity (a completed level,
an active enrolment, or module progress) at a level above the new one; then the result is
recorded with ``applied: false`` and the path stays, so no one is moved below work they have
already done. When it applies, levels below the new level that are not completed show as
placed-out, completed levels stay completed, and the current level is the first level at or
above the new one that is not completed. Older results are recorded but never applied.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, put
from litestar.params import JSONBody

from services.common.auth import Principal, allow_peers
from services.common.errors import Problem
from services.progress import engine
from services.progress.api.util import wake_relay
from services.progress.db import connect, iso, jsonb
from services.progress.schemas import PlacementIn


def canonical(data: JSONBody[PlacementIn]) -> str:
    return engine.content_hash(
        data.official.id,
        data.official.name,
        data.official.org,
        data.level,
        repr(float(data.ability)),
        repr(float(data.standard_error)),
        iso(data.completed_at),
    )


async def activity_levels(conn: engine.Conn, curriculum: engine.Curriculum | None, official_id: str) -> set[int]:
    levels = {
        r["level"]
        for r in await conn.fetch(
            "SELECT level FROM level_completion WHERE official_id = $1 UNION "
            "SELECT level FROM enrolment WHERE official_id = $1 AND status IN ('enrolled', 'waitlisted')",
            official_id,
        )
    }
    if curriculum is not None:
        for r in await conn.fetch("SELECT module_code FROM module_progress WHERE official_id = $1", official_id):
            level = curriculum.level_of(r["module_code"])
            if level is not None:
                levels.add(level)
    return levels


@put("/v1/placements/{result_id:str}", guards=[allow_peers("placement")], tags=["placement intake"])
async def receive_placement(
    request: Request[Any, Any, Any], principal: Principal, result_id: str, data: JSONBody[PlacementIn]
) -> Response[Any]:
    """Receive a placement result; create or update the official's learning path."""
    if not 1 <= len(result_id) <= 128:
        raise Problem(400, "invalid-result-id", "The result id must be 1-128 characters.")
    digest = canonical(data)
    off = data.official
    completed = []
    async with connect(request.app) as conn:
        created = await conn.fetchval(
            "INSERT INTO official (id, name, org, placed_level, current_level, placement_result_id, "
            "placement_completed_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $4, $5, $6, now(), now()) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            off.id,
            off.name,
            off.org,
            data.level,
            result_id,
            data.completed_at,
        )
        official = await conn.fetchrow(
            "SELECT placed_level, current_level, placement_result_id, placement_completed_at FROM official "
            "WHERE id = $1 FOR UPDATE",
            off.id,
        )
        existing = await conn.fetchrow(
            "SELECT content_hash, response FROM placement_result WHERE result_id = $1", result_id
        )
        if existing is not None:
            if existing["content_hash"] != digest:
                raise Problem(
                    409,
                    "placement-conflict",
                    f"Placement result {result_id} was already received with different content; "
                    "a result is immutable, send a new result id.",
                    result_id=result_id,
                )
            return Response(jsonb(existing["response"]), status_code=200)
        curriculum = await engine.published(conn)
        applied, detail = True, f"The learning path starts at level {data.level}."
        if created is None:
            if data.completed_at <= official["placement_completed_at"]:
                applied = False
                detail = "A placement completed at the same time or later is already applied; recorded only."
            else:
                above = {lv for lv in await activity_levels(conn, curriculum, off.id) if lv > data.level}
                if above:
                    applied = False
                    detail = (
                        f"The official already has learning activity at level(s) {sorted(above)}, above the "
                        f"placed level {data.level}; the path is unchanged (recorded only)."
                    )
        if applied and created is None:
            done = {
                r["level"]
                for r in await conn.fetch("SELECT level FROM level_completion WHERE official_id = $1", off.id)
            }
            current = data.level
            while current in done:
                current += 1
            await conn.execute(
                "UPDATE official SET name = $2, org = $3, placed_level = $4, current_level = $5, "
                "placement_result_id = $6, placement_completed_at = $7, updated_at = now() WHERE id = $1",
                off.id,
                off.name,
                off.org,
                data.level,
                current,
                result_id,
                data.completed_at,
            )
        elif created is None:
            await conn.execute(
                "UPDATE official SET name = $2, org = $3, updated_at = now() WHERE id = $1", off.id, off.name, off.org
            )
        if applied and curriculum is not None:
            outcome = await engine.advance(conn, curriculum, [off.id])
            completed = outcome.completed
        state = await conn.fetchrow("SELECT placed_level, current_level FROM official WHERE id = $1", off.id)
        body = {
            "result_id": result_id,
            "official_id": off.id,
            "level": data.level,
            "applied": applied,
            "placed_level": state["placed_level"],
            "current_level": state["current_level"] if state["current_level"] <= 4 else None,
            "detail": detail,
        }
        await conn.execute(
            "INSERT INTO placement_result (result_id, official_id, level, ability, standard_error, completed_at, "
            "content_hash, applied, response, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, now())",
            result_id,
            off.id,
            data.level,
            data.ability,
            data.standard_error,
            data.completed_at,
            digest,
            applied,
            msgspec.json.encode(body).decode(),
        )
    if completed:
        wake_relay(request)
    return Response(body, status_code=201)
