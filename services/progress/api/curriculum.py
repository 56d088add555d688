# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""Curriculum versions: draft (editable), published (immutable; publishing recomputes), retired."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody, Parameter

from services.common.auth import allow
from services.common.db import uuid7
from services.common.errors import Problem, not_found
from services.progress import engine
from services.progress import recompute as recompute_worker
from services.progress.db import connect, jsonb
from services.progress.domain.completion import check_prerequisites
from services.progress.schemas import (
    CurriculumIn,
    CurriculumOut,
    CurriculumSummary,
    PublishOut,
    RecomputeJobOut,
)

EVERYONE = ("learner", "instructor", "admin", "hr", "service")


def validate(spec: CurriculumIn) -> None:
    errors: list[dict[str, Any]] = []
    levels = [lv.level for lv in spec.levels]
    if sorted(levels) != [0, 1, 2, 3, 4]:
        errors.append({"field": "levels", "message": f"must hold levels 0-4 once each, got {levels}"})
    seen: dict[str, str] = {}
    for li, lv in enumerate(spec.levels):
        finals = 0
        for ci, course in enumerate(lv.courses):
            for mi, m in enumerate(course.modules):
                where = f"levels[{li}].courses[{ci}].modules[{mi}]"
                if m.code in seen:
                    errors.append({"field": where + ".code", "message": f"module code {m.code} is used twice"})
                seen[m.code] = where
                if m.rule in ("passed", "completed_and_passed") and m.min_score is None and m.final:
                    errors.append({"field": where + ".min_score", "message": "a final assessment needs min_score"})
                if m.rule in ("completed", "attended") and m.min_score is not None:
                    errors.append({"field": where + ".min_score", "message": f"rule {m.rule} takes no min_score"})
                if m.final:
                    finals += 1
                    if m.rule not in ("passed", "completed_and_passed"):
                        errors.append({"field": where + ".rule", "message": "a final assessment must be passed"})
        if finals > 1:
            errors.append({"field": f"levels[{li}]", "message": "a level has at most one final assessment"})
    if not errors:
        parsed = engine.parse_curriculum(uuid.uuid4(), spec.version, spec)
        for message in check_prerequisites(parsed.modules.values()):
            errors.append({"field": "prerequisites", "message": message})
        for md in parsed.modules.values():
            for p in md.prerequisites:
                other = parsed.modules.get(p)
                if other is not None and other.level > md.level:
                    errors.append(
                        {"field": "prerequisites", "message": f"module {md.code} depends on a higher level's {p}"}
                    )
    if errors:
        raise Problem(422, "invalid-curriculum", "The curriculum has problems; fix every listed one.", errors=errors)


def summary(r: Any) -> CurriculumSummary:
    return CurriculumSummary(
        r["id"], r["version"], r["title"], r["status"], r["created_at"], r["published_at"], r["retired_at"]
    )


def full(r: Any) -> CurriculumOut:
    spec = msgspec.convert(jsonb(r["definition"]), CurriculumIn)
    return CurriculumOut(
        r["id"],
        r["version"],
        r["title"],
        r["status"],
        spec.levels,
        r["created_at"],
        r["published_at"],
        r["retired_at"],
    )


COLUMNS = "id, version, title, status, definition, created_at, published_at, retired_at"


JOB_COLUMNS = "id, curriculum_id, status, officials, levels_completed, flagged, note, created_at, finished_at"


def job_out(r: Any) -> RecomputeJobOut:
    return RecomputeJobOut(**dict(r))


class CurriculumController(Controller):
    path = "/v1/curricula"
    tags = ["curriculum"]

    @post("/", guards=[allow("admin")], status_code=201)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CurriculumIn]) -> CurriculumOut:
        """Create a draft curriculum version (five levels with courses and modules)."""
        validate(data)
        async with connect(request.app) as conn:
            row = await conn.fetchrow(
                f"INSERT INTO curriculum_version (id, version, title, status, definition, created_at, updated_at) "
                f"VALUES ($1, $2, $3, 'draft', $4::jsonb, now(), now()) ON CONFLICT (version) DO NOTHING "
                f"RETURNING {COLUMNS}",
                uuid7(),
                data.version,
                data.title,
                msgspec.json.encode(data).decode(),
            )
            if row is None:
                raise Problem(409, "version-exists", f"Curriculum version {data.version} exists; pick a new label.")
        return full(row)

    @get("/", guards=[allow("admin")])
    async def list_versions(self, request: Request[Any, Any, Any]) -> list[CurriculumSummary]:
        """Every curriculum version, newest first."""
        async with connect(request.app, transaction=False) as conn:
            rows = await conn.fetch(f"SELECT {COLUMNS} FROM curriculum_version ORDER BY created_at DESC")
        return [summary(r) for r in rows]

    @get("/current", guards=[allow(*EVERYONE)])
    async def current(self, request: Request[Any, Any, Any]) -> CurriculumOut:
        """The published curriculum (levels, courses, modules with their completion rules)."""
        async with connect(request.app, transaction=False) as conn:
            row = await conn.fetchrow(f"SELECT {COLUMNS} FROM curriculum_version WHERE status = 'published'")
        if row is None:
            raise Problem(404, "no-published-curriculum", "No curriculum is published yet.")
        return full(row)

    @get("/{curriculum_id:uuid}", guards=[allow("admin")])
    async def get_one(self, request: Request[Any, Any, Any], curriculum_id: uuid.UUID) -> CurriculumOut:
        """One curriculum version in full."""
        async with connect(request.app, transaction=False) as conn:
            row = await conn.fetchrow(f"SELECT {COLUMNS} FROM curriculum_version WHERE id = $1", curriculum_id)
        if row is None:
            raise not_found("curriculum", curriculum_id)
        return full(row)

    @put("/{curriculum_id:uuid}", guards=[allow("admin")])
    async def replace(
        self, request: Request[Any, Any, Any], curriculum_id: uuid.UUID, data: JSONBody[CurriculumIn]
    ) -> CurriculumOut:
        """Replace a draft. Published and retired versions are immutable (409)."""
        validate(data)
        async with connect(request.app) as conn:
            status = await conn.fetchval(
                "SELECT status FROM curriculum_version WHERE id = $1 FOR UPDATE", curriculum_id
            )
            if status is None:
                raise not_found("curriculum", curriculum_id)
            if status != "draft":
                raise Problem(
                    409,
                    "curriculum-immutable",
                    f"This version is {status} and can no longer change; create a new draft version instead.",
                )
            clash = await conn.fetchval(
                "SELECT 1 FROM curriculum_version WHERE version = $1 AND id <> $2", data.version, curriculum_id
            )
            if clash:
                raise Problem(409, "version-exists", f"Curriculum version {data.version} exists; pick a new label.")
            row = await conn.fetchrow(
                f"UPDATE curriculum_version SET version = $2, title = $3, definition = $4::jsonb, updated_at = now() "
                f"WHERE id = $1 RETURNING {COLUMNS}",
                curriculum_id,
                data.version,
                data.title,
                msgspec.json.encode(data).decode(),
            )
        return full(row)

    @post("/{curriculum_id:uuid}/publish", guards=[allow("admin")], status_code=200)
    async def publish(
        self,
        request: Request[Any, Any, Any],
        curriculum_id: uuid.UUID,
        recompute: bool = Parameter(default=True, description="Re-evaluate every official against it."),
    ) -> PublishOut:
        """Publish a draft (the previously published version is retired) and start a recompute
        job that re-evaluates every official against it in the background (follow it at
        ``/v1/recompute-jobs/{id}``). Completed levels that no longer meet the new rules are
        flagged for review, never revoked; levels that now meet them complete."""
        async with connect(request.app) as conn:
            status = await conn.fetchval(
                "SELECT status FROM curriculum_version WHERE id = $1 FOR UPDATE", curriculum_id
            )
            if status is None:
                raise not_found("curriculum", curriculum_id)
            if status != "draft":
                raise Problem(409, "not-a-draft", f"Only a draft can be published; this version is {status}.")
            await conn.execute(
                "UPDATE curriculum_version SET status = 'retired', retired_at = now(), updated_at = now() "
                "WHERE status = 'published'"
            )
            row = await conn.fetchrow(
                f"UPDATE curriculum_version SET status = 'published', published_at = now(), updated_at = now() "
                f"WHERE id = $1 RETURNING {COLUMNS}",
                curriculum_id,
            )
            job = None
            if recompute:
                job = await conn.fetchrow(
                    f"INSERT INTO recompute_job (id, curriculum_id, status, after_official, officials, "
                    f"levels_completed, flagged, created_at, updated_at) "
                    f"VALUES ($1, $2, 'pending', '', 0, 0, 0, now(), now()) RETURNING {JOB_COLUMNS}",
                    uuid7(),
                    curriculum_id,
                )
        if job is not None:
            recompute_worker.wake(request.app)
        return PublishOut(summary(row), job_out(job) if job is not None else None)

    @post("/{curriculum_id:uuid}/retire", guards=[allow("admin")], status_code=200)
    async def retire(self, request: Request[Any, Any, Any], curriculum_id: uuid.UUID) -> CurriculumSummary:
        """Retire a curriculum version (it stays for history)."""
        async with connect(request.app) as conn:
            row = await conn.fetchrow(
                f"UPDATE curriculum_version SET status = 'retired', retired_at = coalesce(retired_at, now()), "
                f"updated_at = now() WHERE id = $1 AND status <> 'draft' RETURNING {COLUMNS}",
                curriculum_id,
            )
            if row is None:
                exists = await conn.fetchval("SELECT status FROM curriculum_version WHERE id = $1", curriculum_id)
                if exists is None:
                    raise not_found("curriculum", curriculum_id)
                raise Problem(409, "not-published", "A draft cannot be retired; publish it or leave it.")
        return summary(row)


@get("/v1/recompute-jobs/{job_id:uuid}", guards=[allow("admin")], tags=["curriculum"])
async def recompute_job(request: Request[Any, Any, Any], job_id: uuid.UUID) -> RecomputeJobOut:
    """How far the re-evaluation after a publish has got."""
    async with connect(request.app, transaction=False) as conn:
        row = await conn.fetchrow(f"SELECT {JOB_COLUMNS} FROM recompute_job WHERE id = $1", job_id)
    if row is None:
        raise not_found("recompute job", job_id)
    return job_out(row)
