# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""Curriculum versions (draft, published, retired) and the recompute jobs a publish starts."""

from __future__ import annotations

import uuid

import msgspec

from services.common.db import uuid7
from services.common.errors import Problem, not_found
from services.progress.db import jsonb
from services.progress.domain.curriculum import Curriculum, parse_curriculum, validate
from services.progress.schemas import CurriculumIn, CurriculumOut, CurriculumSummary, PublishOut, RecomputeJobOut
from services.progress.store.base import Conn, Db, as_json, many, one

COLUMNS = "id, version, title, status, definition, created_at, published_at, retired_at"
SUMMARY_COLUMNS = "id, version, title, status, created_at, published_at, retired_at"
JOB_COLUMNS = "id, curriculum_id, status, officials, levels_completed, flagged, note, created_at, finished_at"

PUBLISHED_ID = "SELECT id FROM curriculum_version WHERE status = 'published'"
DEFINITION = "SELECT id, version, status, definition FROM curriculum_version WHERE id = $1"
INSERT = f"""
INSERT INTO curriculum_version (id, version, title, status, definition, created_at, updated_at)
VALUES ($1, $2, $3, 'draft', $4::jsonb, now(), now())
ON CONFLICT (version) DO NOTHING
RETURNING {COLUMNS}
"""
LIST = f"SELECT {SUMMARY_COLUMNS} FROM curriculum_version ORDER BY created_at DESC"
CURRENT = f"SELECT {COLUMNS} FROM curriculum_version WHERE status = 'published'"
BY_ID = f"SELECT {COLUMNS} FROM curriculum_version WHERE id = $1"
STATUS_FOR_UPDATE = "SELECT status FROM curriculum_version WHERE id = $1 FOR UPDATE"
STATUS = "SELECT status FROM curriculum_version WHERE id = $1"
VERSION_TAKEN = "SELECT 1 FROM curriculum_version WHERE version = $1 AND id <> $2"
REPLACE = f"""
UPDATE curriculum_version SET version = $2, title = $3, definition = $4::jsonb, updated_at = now()
WHERE id = $1
RETURNING {COLUMNS}
"""
RETIRE_PUBLISHED = """
UPDATE curriculum_version SET status = 'retired', retired_at = now(), updated_at = now()
WHERE status = 'published'
"""
PUBLISH = f"""
UPDATE curriculum_version SET status = 'published', published_at = now(), updated_at = now()
WHERE id = $1
RETURNING {SUMMARY_COLUMNS}
"""
START_JOB = f"""
INSERT INTO recompute_job (id, curriculum_id, status, after_official, officials, levels_completed, flagged,
                           created_at, updated_at)
VALUES ($1, $2, 'pending', '', 0, 0, 0, now(), now())
RETURNING {JOB_COLUMNS}
"""
RETIRE = f"""
UPDATE curriculum_version SET status = 'retired', retired_at = coalesce(retired_at, now()), updated_at = now()
WHERE id = $1 AND status <> 'draft'
RETURNING {SUMMARY_COLUMNS}
"""
JOB = f"SELECT {JOB_COLUMNS} FROM recompute_job WHERE id = $1"

# Published and retired versions are immutable, so their parsed form is cached by id; which
# version is published is read from the database every time.
_cache: dict[uuid.UUID, Curriculum] = {}
# The curriculum this process last read as published: only a hint, for a statement that checks it
# is still the published one (see ``events.ingest``).
_last_published: dict[str, Curriculum] = {}


async def published(conn: Conn) -> Curriculum | None:
    """The published curriculum, parsed."""
    cid = await conn.fetchval(PUBLISHED_ID)
    parsed = None if cid is None else await by_id(conn, cid)
    if parsed is not None:
        _last_published["hint"] = parsed
    return parsed


def last_published() -> Curriculum | None:
    """The curriculum this process last read as published (it may have been retired since)."""
    return _last_published.get("hint")


async def by_id(conn: Conn, cid: uuid.UUID) -> Curriculum | None:
    cached = _cache.get(cid)
    if cached is not None:
        return cached
    row = await conn.fetchrow(DEFINITION, cid)
    if row is None:
        return None
    parsed = parse_curriculum(row["id"], row["version"], msgspec.convert(jsonb(row["definition"]), CurriculumIn))
    if row["status"] != "draft":
        _cache[cid] = parsed
    return parsed


def full(row: object) -> CurriculumOut:
    r = dict(row)  # type: ignore[call-overload]
    r["levels"] = jsonb(r.pop("definition"))["levels"]
    return msgspec.convert(r, CurriculumOut)


def version_exists(version: str) -> Problem:
    return Problem(409, "version-exists", f"Curriculum version {version} exists; pick a new label.")


async def create(db: Db, spec: CurriculumIn) -> CurriculumOut:
    validate(spec)
    async with db.transaction() as conn:
        row = await conn.fetchrow(INSERT, uuid7(), spec.version, spec.title, as_json(spec))
    if row is None:
        raise version_exists(spec.version)
    return full(row)


async def list_versions(db: Db) -> list[CurriculumSummary]:
    async with db.read() as conn:
        return many(await conn.fetch(LIST), CurriculumSummary)


async def current(db: Db) -> CurriculumOut:
    async with db.read() as conn:
        row = await conn.fetchrow(CURRENT)
    if row is None:
        raise Problem(404, "no-published-curriculum", "No curriculum is published yet.")
    return full(row)


async def get(db: Db, cid: uuid.UUID) -> CurriculumOut:
    async with db.read() as conn:
        row = await conn.fetchrow(BY_ID, cid)
    if row is None:
        raise not_found("curriculum", cid)
    return full(row)


async def _lock_status(conn: Conn, cid: uuid.UUID) -> str:
    status: str | None = await conn.fetchval(STATUS_FOR_UPDATE, cid)
    if status is None:
        raise not_found("curriculum", cid)
    return status


async def replace(db: Db, cid: uuid.UUID, spec: CurriculumIn) -> CurriculumOut:
    """Replace a draft; published and retired versions are immutable."""
    validate(spec)
    async with db.transaction() as conn:
        status = await _lock_status(conn, cid)
        if status != "draft":
            raise Problem(
                409,
                "curriculum-immutable",
                f"This version is {status} and can no longer change; create a new draft version instead.",
            )
        if await conn.fetchval(VERSION_TAKEN, spec.version, cid):
            raise version_exists(spec.version)
        row = await conn.fetchrow(REPLACE, cid, spec.version, spec.title, as_json(spec))
    return full(row)


async def publish(db: Db, cid: uuid.UUID, *, recompute: bool) -> PublishOut:
    """Publish a draft, retire the previously published version and (with ``recompute``) start
    the job that re-evaluates every official against it."""
    async with db.transaction() as conn:
        status = await _lock_status(conn, cid)
        if status != "draft":
            raise Problem(409, "not-a-draft", f"Only a draft can be published; this version is {status}.")
        await conn.execute(RETIRE_PUBLISHED)
        row = await conn.fetchrow(PUBLISH, cid)
        job = await conn.fetchrow(START_JOB, uuid7(), cid) if recompute else None
    if job is not None:
        db.wake_recompute()
    return PublishOut(one(row, CurriculumSummary), None if job is None else one(job, RecomputeJobOut))


async def retire(db: Db, cid: uuid.UUID) -> CurriculumSummary:
    async with db.transaction() as conn:
        row = await conn.fetchrow(RETIRE, cid)
        if row is None:
            if await conn.fetchval(STATUS, cid) is None:
                raise not_found("curriculum", cid)
            raise Problem(409, "not-published", "A draft cannot be retired; publish it or leave it.")
    return one(row, CurriculumSummary)


async def job(db: Db, job_id: uuid.UUID) -> RecomputeJobOut:
    async with db.read() as conn:
        row = await conn.fetchrow(JOB, job_id)
    if row is None:
        raise not_found("recompute job", job_id)
    return one(row, RecomputeJobOut)
