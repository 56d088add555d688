"""Results of completed diagnostics."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from services.common.auth import allow
from services.common.errors import Problem
from services.common.pagination import Page, decode_cursor, page
from services.placement.api.common import Caller, Cursor, Limit, Session
from services.placement.schemas import DomainSummary, ResultOut, UsedItem
from services.placement.store import results as store


def result_out(row: Any, admin: bool) -> ResultOut:
    return ResultOut(
        id=row["id"],
        session_id=row["session_id"],
        official_id=row["official_id"],
        level=row["level"],
        ability=row["ability"],
        standard_error=row["standard_error"],
        level_probabilities=list(row["level_probabilities"]),
        domains=[DomainSummary(d, v["items"], v["correct"]) for d, v in row["domains"].items()],
        items=[
            UsedItem(
                position=i["position"],
                item_id=uuid.UUID(i["item_id"]),
                domain=i["domain"],
                scored=i["scored"],
                code=i["code"] if admin else None,
                correct=i["correct"] if admin else None,
            )
            for i in row["items"]
        ],
        length=row["length"],
        stop_reason=row["stop_reason"],
        bank_version=row["version_id"],
        completed_at=row["completed_at"],
    )


class ResultController(Controller):
    path = "/v1/results"
    tags = ["results"]

    @get("/{result_id:uuid}", opt=allow("learner", "admin"))
    async def get_result(self, result_id: FromPath[uuid.UUID], session: Session, principal: Caller) -> ResultOut:
        """Read a result: learners their own (without per-item correctness), admins any."""
        admin = principal.has("admin")
        return result_out(await store.get_result(session, result_id, None if admin else principal.sub), admin)

    @get("/", opt=allow("learner", "admin"))
    async def list_results(
        self,
        session: Session,
        principal: Caller,
        official_id: Annotated[str | None, QueryParameter(description="Admins: one official's results.")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[ResultOut]:
        """List results newest first: your own, or (admins) everyone's."""
        admin = principal.has("admin")
        after = decode_cursor(cursor)
        after_id = None
        if after is not None:
            try:
                after_id = uuid.UUID(str(after))
            except ValueError as exc:
                raise Problem(400, "invalid-cursor", "The cursor is not one this service issued.") from exc
        rows = await store.list_results(session, (official_id or None) if admin else principal.sub, after_id, limit)
        return page([result_out(r, admin) for r in rows], limit, lambda r: str(r.id))
