"""Learning events: batches of up to 1,000, atomic, idempotent per event id, merged forward only;
voiding an event; and what admins do about one official (waivers, recompute, review flags)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from services.common.auth import Principal, allow
from services.common.pagination import Page
from services.progress.schemas import (
    BatchOut,
    EventBatch,
    RecomputeOut,
    ReviewOut,
    ReviewResolvedOut,
    VoidOut,
    WaiverIn,
    WaiverOut,
)
from services.progress.store import events
from services.progress.store.base import Db


class EventController(Controller):
    path = "/v1"
    tags = ["learning events"]

    @post(
        "/events",
        opt=allow("service", "admin", "instructor", "learner"),
        status_code=200,
        summary="Ingest learning events",
    )
    async def post_events(
        self, db: NamedDependency[Db], principal: NamedDependency[Principal], data: JSONBody[EventBatch]
    ) -> BatchOut:
        """Up to 1,000 events (started, completed, passed, failed, attended), all or nothing.
        Replays of known events are no-ops; a known id with different content is 409. Learners
        report only their own progress, not results; instructors only about officials they teach."""
        return await events.ingest(db, data.events, sub=principal.sub, roles=principal.roles)

    @post("/events/{event_id:str}/void", opt=allow("admin"), status_code=200, summary="Void an event")
    async def void(self, db: NamedDependency[Db], event_id: FromPath[str]) -> VoidOut:
        """The official's progress is rebuilt from the remaining events; a completed level that
        no longer holds is flagged for review, not revoked."""
        return VoidOut(event_id, True, await events.void(db, event_id))


class AdminOfficialController(Controller):
    path = "/v1/officials/{official_id:str}"
    tags = ["admin"]
    opt = allow("admin")

    @post("/waivers", status_code=201, summary="Waive a requirement for an official")
    async def waive(
        self,
        db: NamedDependency[Db],
        principal: NamedDependency[Principal],
        official_id: FromPath[str],
        data: JSONBody[WaiverIn],
    ) -> WaiverOut:
        """A module (``module:<code>``), the attendance threshold or the final assessment of a
        level, with a recorded reason; the level is re-evaluated at once."""
        return await events.waive(db, official_id, data, principal.sub)

    @post("/recompute", status_code=200, summary="Recompute an official's progress")
    async def recompute(self, db: NamedDependency[Db], official_id: FromPath[str]) -> RecomputeOut:
        """Rebuild the official's progress from stored events and re-evaluate every level."""
        outcome = await events.recompute_official(db, official_id)
        return RecomputeOut(official_id, len(outcome.completed), outcome.flagged)

    @post("/levels/{level:int}/review", status_code=200, summary="Clear a review flag")
    async def resolve_review(
        self, db: NamedDependency[Db], official_id: FromPath[str], level: FromPath[int]
    ) -> ReviewResolvedOut:
        """After an admin has looked at it; the completion stands."""
        await events.resolve_review(db, official_id, level)
        return ReviewResolvedOut(official_id, level, False)


@get("/v1/reviews", opt=allow("admin"), tags=["admin"], summary="Completed levels flagged for review")
async def reviews(
    db: NamedDependency[Db],
    limit: int = Parameter(default=100, ge=1, le=500),
    cursor: str | None = Parameter(default=None),
) -> Page[ReviewOut]:
    """Flagged by recomputation, oldest flag first (certificates are never revoked
    automatically; an admin decides). Keyset-paged with ``next_cursor``."""
    return await events.reviews(db, limit, cursor)
