"""Curriculum versions: draft (editable), published (immutable; publishing recomputes), retired."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from services.common.auth import allow
from services.progress.api.common import LOCATION
from services.progress.schemas import CurriculumIn, CurriculumOut, CurriculumSummary, PublishOut, RecomputeJobOut
from services.progress.store import curricula
from services.progress.store.base import Db

EVERYONE = ("learner", "instructor", "admin", "hr", "service")


class CurriculumController(Controller):
    path = "/v1/curricula"
    tags = ["curriculum"]

    @post(
        "/",
        opt=allow("admin"),
        status_code=201,
        summary="Create a draft curriculum version",
        response_headers=LOCATION,
    )
    async def create(self, db: NamedDependency[Db], data: JSONBody[CurriculumIn]) -> Response[CurriculumOut]:
        """Five levels with courses and modules and their completion rules; 422 lists every problem."""
        out = await curricula.create(db, data)
        return Response(out, status_code=201, headers={"Location": f"/v1/curricula/{out.id}"})

    @get("/", opt=allow("admin"), summary="List curriculum versions")
    async def list_versions(self, db: NamedDependency[Db]) -> list[CurriculumSummary]:
        """Every curriculum version, newest first."""
        return await curricula.list_versions(db)

    @get("/current", opt=allow(*EVERYONE), summary="The published curriculum")
    async def current(self, db: NamedDependency[Db]) -> CurriculumOut:
        """Levels, courses and modules with their completion rules."""
        return await curricula.current(db)

    @get("/{curriculum_id:uuid}", opt=allow("admin"), summary="One curriculum version")
    async def get_one(self, db: NamedDependency[Db], curriculum_id: FromPath[uuid.UUID]) -> CurriculumOut:
        return await curricula.get(db, curriculum_id)

    @put("/{curriculum_id:uuid}", opt=allow("admin"), summary="Replace a draft curriculum version")
    async def replace(
        self, db: NamedDependency[Db], curriculum_id: FromPath[uuid.UUID], data: JSONBody[CurriculumIn]
    ) -> CurriculumOut:
        """Published and retired versions are immutable (409)."""
        return await curricula.replace(db, curriculum_id, data)

    @post("/{curriculum_id:uuid}/publish", opt=allow("admin"), status_code=200, summary="Publish a draft")
    async def publish(
        self,
        db: NamedDependency[Db],
        curriculum_id: FromPath[uuid.UUID],
        recompute: bool = Parameter(default=True, description="Re-evaluate every official against it."),
    ) -> PublishOut:
        """The previously published version is retired, and a recompute job re-evaluates every
        official against the new one in the background (follow it at ``/v1/recompute-jobs/{id}``).
        Completed levels that no longer meet the new rules are flagged for review, never revoked;
        levels that now meet them complete."""
        return await curricula.publish(db, curriculum_id, recompute=recompute)

    @post("/{curriculum_id:uuid}/retire", opt=allow("admin"), status_code=200, summary="Retire a version")
    async def retire(self, db: NamedDependency[Db], curriculum_id: FromPath[uuid.UUID]) -> CurriculumSummary:
        return await curricula.retire(db, curriculum_id)


@get("/v1/recompute-jobs/{job_id:uuid}", opt=allow("admin"), tags=["curriculum"], summary="One recompute job")
async def recompute_job(db: NamedDependency[Db], job_id: FromPath[uuid.UUID]) -> RecomputeJobOut:
    """How far the re-evaluation after a publish has got."""
    return await curricula.job(db, job_id)
