"""The HR feed: every change (issue, revoke, suspend, reinstate, re-issue) in transaction order.

Every change row stores the 64-bit id of the transaction that wrote it. The feed serves rows
below a horizon: the oldest transaction that may still write change rows, or the next transaction
id when none may. Which transactions may: those holding the *feed writer lock*, a shared advisory
lock that every writer takes as its first statement (before it has a transaction id), and that a
trigger on ``change`` demands. So any change that can still commit sorts after everything served,
a cursor never passes it, and writers never wait for each other. A transaction that writes
something else (an admin's ``psql`` session left open, a migration, another table) holds no such
lock and never holds the feed back. A writer that stalls holding the lock is ended by the server
after ``feed_writer_timeout_seconds`` (idle in transaction, or one statement): that is the bound."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.certification.settings import Settings

# pg_advisory_xact_lock_shared(FEED_LOCK_CLASS, FEED_LOCK_ID): pg_locks shows it as classid,
# objid with objsubid 2 (the two-integer form). The migration's trigger checks the same numbers.
FEED_LOCK_CLASS, FEED_LOCK_ID = 4242, 1

# First statement of every transaction that writes change rows: the shared feed writer lock (no
# writer waits for another) and the server-side bound on how long it may hold the feed back.
# ``lms.feed_writer`` is what the trigger on ``change`` checks (set in the same statement as the lock).
HOLD_FEED_SELECT = (
    "SELECT set_config('idle_in_transaction_session_timeout', :timeout, true),"
    " set_config('statement_timeout', :timeout, true), set_config('lms.feed_writer', 'on', true),"
    f" pg_advisory_xact_lock_shared({FEED_LOCK_CLASS}, {FEED_LOCK_ID})"
)
HOLD_FEED = text(HOLD_FEED_SELECT)

# The oldest transaction id among this database's backends holding the feed writer lock, or the
# next transaction id. Read as the first statement of a fresh transaction, before the rows: anything
# below the horizon had finished by then, so the later snapshot sees it. backend_xid is visible for
# sessions of one's own role: all replicas must connect with the same role.
HORIZON = text(
    "WITH n AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS nxt)"  # noqa: S608 - constant fragments
    " SELECT least(n.nxt, (SELECT min(CASE WHEN f > n.nxt THEN f - 4294967296 ELSE f END) FROM"
    " (SELECT ((n.nxt >> 32) << 32) | a.backend_xid::text::bigint AS f"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    f" WHERE l.locktype = 'advisory' AND l.classid = {FEED_LOCK_CLASS} AND l.objid = {FEED_LOCK_ID}"
    " AND l.objsubid = 2 AND l.granted"
    " AND a.datname = current_database() AND a.backend_xid IS NOT NULL) t)) FROM n"
)
COLUMNS = (
    "xid, seq, event, certificate_id, serial, official_id, official_name, org, level, status, reason,"
    " issued_at, changed_at, supersedes_id"
)
SELECT = f"SELECT {COLUMNS} FROM change"  # noqa: S608 - constant column list
# The feed position and the horizon always apply; each filter adds its clause (built from these
# constants only, so the planner can use the (org, xid, seq) index when org is given).
POSITION = "(xid, seq) > (:after_x, :after_s) AND xid < :horizon"
FILTERS = {
    "level": "level = :level",
    "status": "status = :status",
    "org": "org = :org",
    "issued_from": "issued_at >= :issued_from",
    "issued_to": "issued_at < :issued_to",
}
ORDER = "ORDER BY xid, seq"


def _query(filters: dict[str, Any], limit: bool) -> Any:
    clauses = [POSITION, *(FILTERS[name] for name, value in filters.items() if value is not None)]
    return text(f"{SELECT} WHERE {' AND '.join(clauses)} {ORDER}" + (" LIMIT :limit" if limit else ""))


def feed_timeout(settings: Settings) -> str:
    return f"{int(settings.feed_writer_timeout_seconds * 1000)}ms"


async def hold_feed(session: AsyncSession, settings: Settings) -> None:
    """Take the feed writer lock: call before the transaction writes anything."""
    await session.execute(HOLD_FEED, {"timeout": feed_timeout(settings)})


async def horizon(conn: AsyncConnection) -> int:
    """Call as the first statement of a fresh transaction (pg_stat_activity is read once per transaction)."""
    return int((await conn.execute(HORIZON)).scalar_one())


async def page(engine: AsyncEngine, after: tuple[int, int], limit: int, **filters: Any) -> list[Row[Any]]:
    """Up to ``limit`` changes after the position ``after`` (transaction id, seq), in feed order.
    ``filters``: level, status, org, issued_from, issued_to (None: not filtered)."""
    params = {"after_x": after[0], "after_s": after[1], "limit": limit, **filters}
    async with engine.connect() as conn:
        params["horizon"] = await horizon(conn)
        return list((await conn.execute(_query(filters, limit=True), params)).all())


async def export(engine: AsyncEngine, after: tuple[int, int], **filters: Any) -> AsyncIterator[Row[Any]]:
    """Every change after ``after``, streamed from the server in batches."""
    params = {"after_x": after[0], "after_s": after[1], **filters}
    async with engine.connect() as conn:
        params["horizon"] = await horizon(conn)
        result = await conn.stream(_query(filters, limit=False), params, execution_options={"yield_per": 2000})
        async for row in result:
            yield row
