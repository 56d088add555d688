"""The HR feed: every change (issue, revoke, suspend, reinstate, re-issue) in sequence order,
with an opaque cursor, filters, and a streaming CSV export of the same query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy import text

from services.certification.api.common import issuer_of
from services.certification.models import STATUSES
from services.certification.schemas import FeedItem, FeedPage
from services.common.auth import allow
from services.common.errors import Problem
from services.common.export import CSV, stream_csv
from services.common.pagination import decode_cursor, encode_cursor
from services.common.types import require_aware

COLUMNS = (
    "xid, seq, event, certificate_id, serial, official_id, official_name, org, level, status, reason,"
    " issued_at, changed_at, supersedes_id"
)
CSV_HEADER = [
    "seq",
    "event",
    "certificate_id",
    "serial",
    "official_id",
    "official_name",
    "org",
    "level",
    "status",
    "reason",
    "issued_at",
    "changed_at",
    "supersedes_id",
    "url",
]


def _after(cursor: str | None) -> tuple[int, int]:
    """The feed position (transaction id, seq) the cursor points after."""
    key = decode_cursor(cursor)
    if key is None:
        return (-1, 0)
    if (
        not isinstance(key, dict)
        or set(key) != {"x", "s"}
        or not all(isinstance(key[k], int) and not isinstance(key[k], bool) for k in ("x", "s"))
        or key["x"] < -1
        or key["s"] < 0
    ):
        raise Problem(400, "invalid-cursor", "The cursor is not one this service issued; start without it.")
    return int(key["x"]), int(key["s"])


# The feed horizon: the oldest transaction of *this* database still running (or the next
# transaction id when none is). Every change that can still commit was written by a transaction at
# or above it, so serving only rows below it, in (xid, seq) order, never passes a change that is not
# visible yet. Computed in its own statement, before the statement that reads the rows: anything
# below the horizon had finished by then, so the later snapshot sees it. Only this database's
# backends count (same role: backend_xid is visible for one's own sessions), so long transactions
# in other databases on a shared server do not hold the feed back.
HORIZON = text(
    "WITH n AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS nxt)"
    " SELECT least(n.nxt, (SELECT min(CASE WHEN f > n.nxt THEN f - 4294967296 ELSE f END) FROM"
    " (SELECT ((n.nxt >> 32) << 32) | a.backend_xid::text::bigint AS f FROM pg_stat_activity a"
    " WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL) t)) FROM n"
)


async def horizon(conn: Any) -> int:
    """Call as the first statement of a fresh transaction (pg_stat_activity is read once per transaction)."""
    return int((await conn.execute(HORIZON)).scalar_one())


def _where(
    after: tuple[int, int],
    level: int | None,
    status: str | None,
    org: str | None,
    issued_from: datetime | None,
    issued_to: datetime | None,
) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = ["(xid, seq) > (:after_x, :after_s)", "xid < :horizon"]
    params: dict[str, Any] = {"after_x": after[0], "after_s": after[1]}
    if level is not None:
        if level not in range(5):
            raise Problem(400, "invalid-level", "level must be 0 to 4.")
        clauses.append("level = :level")
        params["level"] = level
    if status is not None:
        if status not in STATUSES:
            raise Problem(400, "invalid-status", f"status must be one of {', '.join(STATUSES)}.")
        clauses.append("status = :status")
        params["status"] = status
    if org is not None:
        clauses.append("org = :org")
        params["org"] = org
    require_aware(issued_from, "issued_from")
    require_aware(issued_to, "issued_to")
    if issued_from is not None:
        clauses.append("issued_at >= :issued_from")
        params["issued_from"] = issued_from
    if issued_to is not None:
        clauses.append("issued_at < :issued_to")
        params["issued_to"] = issued_to
    if issued_from is not None and issued_to is not None and issued_from >= issued_to:
        raise Problem(400, "validation", "issued_from must be before issued_to.")
    return " AND ".join(clauses), params


@get("/v1/certificates", guards=[allow("hr")], tags=["hr"])
async def feed(
    request: Request[Any, Any, Any],
    cursor: str | None = None,
    limit: int = Parameter(default=100, ge=1, le=500),
    level: int | None = None,
    status: str | None = None,
    org: str | None = None,
    issued_from: datetime | None = None,
    issued_to: datetime | None = None,
) -> FeedPage:
    """Changes after ``cursor``, in the order their transactions began (then by ``seq``), which is
    causal order for any one certificate. Keep ``next_cursor`` (also when there are no new items)
    and call again: every change arrives exactly once and in order, even while changes are being
    written; a change appears once no older transaction is still running."""
    after = _after(cursor)
    where, params = _where(after, level, status, org, issued_from, issued_to)
    params["limit"] = limit + 1
    base = issuer_of(request).base
    engine = request.app.state.engine
    async with engine.connect() as conn:
        params["horizon"] = await horizon(conn)
        rows = (
            await conn.execute(
                text(f"SELECT {COLUMNS} FROM change WHERE {where} ORDER BY xid, seq LIMIT :limit"),  # noqa: S608
                params,
            )
        ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [
        FeedItem(
            seq=r.seq,
            event=r.event,
            certificate_id=r.certificate_id,
            serial=r.serial,
            official_id=r.official_id,
            official_name=r.official_name,
            org=r.org,
            level=r.level,
            status=r.status,
            reason=r.reason,
            issued_at=r.issued_at,
            changed_at=r.changed_at,
            supersedes_id=r.supersedes_id,
            url=f"{base}/v1/certificates/{r.certificate_id}",
        )
        for r in rows
    ]
    last = (rows[-1].xid, rows[-1].seq) if rows else after
    return FeedPage(items=items, next_cursor=encode_cursor({"x": last[0], "s": last[1]}), has_more=has_more)


@get("/v1/certificates/export.csv", guards=[allow("hr")], tags=["hr"], media_type=CSV)
async def export_csv(
    request: Request[Any, Any, Any],
    cursor: str | None = None,
    level: int | None = None,
    status: str | None = None,
    org: str | None = None,
    issued_from: datetime | None = None,
    issued_to: datetime | None = None,
) -> Stream:
    """The same query as the feed, every matching change after ``cursor``, streamed as CSV."""
    after = _after(cursor)
    where, params = _where(after, level, status, org, issued_from, issued_to)
    base = issuer_of(request).base
    engine = request.app.state.engine

    async def rows() -> AsyncIterator[list[Any]]:
        async with engine.connect() as conn:
            params["horizon"] = await horizon(conn)
            result = await conn.stream(
                text(f"SELECT {COLUMNS} FROM change WHERE {where} ORDER BY xid, seq"),  # noqa: S608
                params,
                execution_options={"yield_per": 2000},
            )
            async for r in result:
                yield [
                    r.seq,
                    r.event,
                    r.certificate_id,
                    r.serial,
                    r.official_id,
                    r.official_name,
                    r.org,
                    r.level,
                    r.status,
                    r.reason or "",
                    r.issued_at.isoformat(),
                    r.changed_at.isoformat(),
                    r.supersedes_id or "",
                    f"{base}/v1/certificates/{r.certificate_id}",
                ]

    return stream_csv(CSV_HEADER, rows(), "certificates.csv")


handlers = [feed, export_csv]
