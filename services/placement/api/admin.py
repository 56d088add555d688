"""Administration: early retakes and bank statistics."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from services.common.auth import allow
from services.common.errors import Problem
from services.placement.api.common import Caller, Session
from services.placement.schemas import Distribution, GrantIn, GrantOut, ItemStat, StatsOut
from services.placement.store import sessions as session_store
from services.placement.store import statistics as store


class AdminController(Controller):
    path = "/v1/admin"
    tags = ["administration"]
    opt = allow("admin")

    @post(
        "/officials/{official_id:str}/retake-grants",
        responses={200: ResponseSpec(data_container=GrantOut, description="An unused grant already exists.")},
    )
    async def grant_retake(
        self, official_id: FromPath[str], session: Session, principal: Caller, data: JSONBody[GrantIn | None] = None
    ) -> Response[GrantOut]:
        """Grant one early retake (idempotent while unused)."""
        if not official_id or len(official_id) > 200:
            raise Problem(400, "validation", "official_id must be 1-200 characters.")
        row, created = await session_store.grant_retake(
            session, official_id, principal.sub, data.reason if data else ""
        )
        out = GrantOut(
            row["id"], row["official_id"], row["granted_by"], row["reason"], row["granted_at"], row["used_at"]
        )
        return Response(out, status_code=201 if created else 200)

    @get("/stats")
    async def stats(
        self,
        session: Session,
        version: Annotated[int | None, QueryParameter(description="Bank version (default: the active one).")] = None,
    ) -> StatsOut:
        """Exposure and usage per item, length and level distributions."""
        facts = await store.version_stats(session, version)
        started = facts.version.sessions_started
        items = []
        for vi in facts.items:
            n, right = facts.answered.get(vi.idx, (0, 0))
            items.append(
                ItemStat(
                    item_id=vi.item_id,
                    code=vi.code,
                    domain=vi.domain,
                    pretest=vi.pretest,
                    administered=vi.administered,
                    exposure_rate=round(vi.administered / started, 4) if started else 0.0,
                    answered=n,
                    proportion_correct=round(right / n, 4) if n else None,
                )
            )
        completed = sum(c for _, c in facts.levels)
        operational = [i.exposure_rate for i in items if not i.pretest]
        return StatsOut(
            bank_version=facts.version.id or 0,
            sessions_started=started,
            sessions_completed=completed,
            max_exposure_rate=max(operational, default=0.0),
            mean_length=round(sum(v * c for v, c in facts.lengths) / completed, 2) if completed else None,
            length_distribution=[Distribution(v, c) for v, c in facts.lengths],
            level_distribution=[Distribution(v, c) for v, c in facts.levels],
            items=sorted(items, key=lambda i: -i.exposure_rate),
        )
