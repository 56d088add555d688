"""Results of completed diagnostics: one official's or everyone's, newest first."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import not_found

RESULT_COLUMNS = (
    "id, session_id, official_id, level, ability, standard_error, level_probabilities, domains, items, length, "
    "stop_reason, version_id, completed_at"
)
RESULT_BY_ID = text(f"SELECT {RESULT_COLUMNS} FROM result WHERE id = :id")  # noqa: S608
OWN_RESULT_BY_ID = text(f"SELECT {RESULT_COLUMNS} FROM result WHERE id = :id AND official_id = :sub")  # noqa: S608
RESULTS_PAGE = text(
    f"SELECT {RESULT_COLUMNS} FROM result "  # noqa: S608
    "WHERE (CAST(:official AS text) IS NULL OR official_id = :official) "
    "AND (CAST(:after AS uuid) IS NULL OR id < :after) "
    "ORDER BY id DESC LIMIT :limit"
)


async def get_result(session: AsyncSession, result_id: uuid.UUID, official_id: str | None) -> Any:
    """One result row; ``official_id`` restricts it to that official's own (else a 404)."""
    if official_id is None:
        query = await session.execute(RESULT_BY_ID, {"id": result_id})
    else:
        query = await session.execute(OWN_RESULT_BY_ID, {"id": result_id, "sub": official_id})
    row = query.mappings().first()
    if row is None:
        raise not_found("result", result_id)
    return row


async def list_results(
    session: AsyncSession, official_id: str | None, after: uuid.UUID | None, limit: int
) -> list[Any]:
    """Result rows newest first (UUIDv7 ids sort by time), optionally one official's."""
    params = {"official": official_id, "after": after, "limit": limit + 1}
    return list((await session.execute(RESULTS_PAGE, params)).mappings().all())
