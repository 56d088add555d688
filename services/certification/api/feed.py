"""The HR feed: every change (issue, revoke, suspend, reinstate, re-issue) in sequence order,
with an opaque cursor, filters, and a streaming CSV export of the same query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from services.certification.api.common import issuer_of
from services.certification.models import STATUSES
from services.certification.schemas import CertificateStatus, FeedItem, FeedPage
from services.certification.store import feed as store
from services.common.auth import allow
from services.common.errors import Problem
from services.common.export import CSV, stream_csv
from services.common.pagination import decode_cursor, encode_cursor
from services.common.types import TZ_EXAMPLE, is_aware

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


def _filters(
    level: int | None,
    status: str | None,
    org: str | None,
    issued_from: datetime | None,
    issued_to: datetime | None,
) -> dict[str, Any]:
    """The optional filters, checked; every bad one is reported at once."""
    errors: list[dict[str, str]] = []
    if level is not None and level not in range(5):
        errors.append({"field": "level", "source": "query", "message": "expected 0-4"})
    if status is not None and status not in STATUSES:
        errors.append({"field": "status", "source": "query", "message": f"one of {', '.join(STATUSES)}"})
    for name, value in (("issued_from", issued_from), ("issued_to", issued_to)):
        if value is not None and not is_aware(value):
            errors.append({"field": name, "source": "query", "message": f"needs a time zone offset, e.g. {TZ_EXAMPLE}"})
    if not errors and issued_from is not None and issued_to is not None and issued_from >= issued_to:
        errors.append({"field": "issued_from", "source": "query", "message": "must be before issued_to"})
    if errors:
        raise Problem(400, "validation", "Some filters are not valid; see errors.", errors=errors)
    return {"level": level, "status": status, "org": org, "issued_from": issued_from, "issued_to": issued_to}


@get("/v1/certificates", opt=allow("hr"), tags=["hr"])
async def feed(
    request: Request[Any, Any, Any],
    cursor: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    level: FromQuery[int | None] = None,
    status: FromQuery[CertificateStatus | None] = None,
    org: FromQuery[str | None] = None,
    issued_from: FromQuery[datetime | None] = None,
    issued_to: FromQuery[datetime | None] = None,
) -> FeedPage:
    """Changes after ``cursor``, in the order their transactions began (then by ``seq``), which is
    causal order for any one certificate. Keep ``next_cursor`` (also when there are no new items)
    and call again: every change arrives exactly once and in order, even while changes are being
    written; a change appears once no older transaction is still running."""
    after = _after(cursor)
    filters = _filters(level, status, org, issued_from, issued_to)
    rows = await store.page(request.app.state.engine, after, limit + 1, **filters)
    base = issuer_of(request).base
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


@get("/v1/certificates/export.csv", opt=allow("hr"), tags=["hr"], media_type=CSV)
async def export_csv(
    request: Request[Any, Any, Any],
    cursor: FromQuery[str | None] = None,
    level: FromQuery[int | None] = None,
    status: FromQuery[CertificateStatus | None] = None,
    org: FromQuery[str | None] = None,
    issued_from: FromQuery[datetime | None] = None,
    issued_to: FromQuery[datetime | None] = None,
) -> Stream:
    """The same query as the feed, every matching change after ``cursor``, streamed as CSV."""
    after = _after(cursor)
    filters = _filters(level, status, org, issued_from, issued_to)
    base = issuer_of(request).base

    async def rows() -> AsyncIterator[list[Any]]:
        async for r in store.export(request.app.state.engine, after, **filters):
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
