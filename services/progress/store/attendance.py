# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""Attendance: one row per (session, official, day) (the primary key), so a day never holds two
marks for one official; a correction updates the row and writes who changed what, when and why
to the audit table. Marks can complete a level (attendance thresholds), so they re-evaluate."""

from __future__ import annotations

import uuid
from datetime import date

from services.common.auth import Principal
from services.progress.db import today
from services.progress.domain import attendance as rules
from services.progress.schemas import AttendanceOut, AuditOut, RosterIn, RosterOut
from services.progress.store import curricula, progress
from services.progress.store.base import Db, many
from services.progress.store.sessions import owned_session

ENROLLED = """
SELECT official_id FROM enrolment
WHERE session_id = $1 AND status = 'enrolled' AND official_id = ANY($2::text[])
"""
MARKS_FOR_UPDATE = """
SELECT official_id, status FROM attendance
WHERE session_id = $1 AND day = $2 AND official_id = ANY($3::text[])
FOR UPDATE
"""
MARK = """
INSERT INTO attendance AS a (session_id, official_id, day, status, recorded_by, recorded_at, updated_at, revision)
SELECT $1, o, $2, s, $3, now(), now(), 1 FROM unnest($4::text[], $5::text[]) AS t(o, s)
ON CONFLICT (session_id, official_id, day) DO UPDATE
SET status = EXCLUDED.status, recorded_by = EXCLUDED.recorded_by, updated_at = now(), revision = a.revision + 1
"""
AUDIT_MARKS = """
INSERT INTO attendance_audit (session_id, official_id, day, old_status, new_status, changed_by, changed_at, reason)
SELECT $1, o, $2, nullif(f, ''), s, $3, now(), $4
FROM unnest($5::text[], $6::text[], $7::text[]) AS t(o, f, s)
"""
MARK_COLUMNS = "official_id, day, status, recorded_by, updated_at, revision"
DAY = f"SELECT {MARK_COLUMNS} FROM attendance WHERE session_id = $1 AND day = $2 ORDER BY official_id"
MARKS = f"""
SELECT {MARK_COLUMNS} FROM attendance
WHERE session_id = $1 AND ($2::date IS NULL OR day = $2)
ORDER BY day, official_id
"""
AUDIT = """
SELECT official_id, day, old_status, new_status, changed_by, changed_at, reason
FROM attendance_audit WHERE session_id = $1 ORDER BY id
"""


async def record(db: Db, principal: Principal, session_id: uuid.UUID, day: date, roster: RosterIn) -> RosterOut:
    """Record or correct one day's roster of the caller's session, audit every change and
    re-evaluate the officials whose marks changed."""
    rules.refuse_duplicates(roster.records)
    ids = [m.official_id for m in roster.records]
    completed = []
    async with db.transaction() as conn:
        session = await owned_session(conn, principal, session_id)
        rules.check_day(day, list(session["days"]), today())
        rules.refuse_strangers(roster.records, {r["official_id"] for r in await conn.fetch(ENROLLED, session_id, ids)})
        old = {r["official_id"]: r["status"] for r in await conn.fetch(MARKS_FOR_UPDATE, session_id, day, ids)}
        changed = rules.changes(roster.records, old, roster.reason)
        if changed:
            officials, statuses = [m.official_id for m in changed], [m.status for m in changed]
            await conn.execute(MARK, session_id, day, principal.sub, officials, statuses)
            before = [old.get(o, "") for o in officials]
            await conn.execute(AUDIT_MARKS, session_id, day, principal.sub, roster.reason, officials, before, statuses)
            curriculum = await curricula.published(conn)
            if curriculum is not None:
                completed = (await progress.evaluate(conn, curriculum, officials)).completed
        marks = many(await conn.fetch(DAY, session_id, day), AttendanceOut)
    db.wake_relay(completed)
    return RosterOut(session_id, day, marks, len(changed))


async def marks(db: Db, principal: Principal, session_id: uuid.UUID, day: date | None) -> list[AttendanceOut]:
    async with db.read() as conn:
        await owned_session(conn, principal, session_id)
        return many(await conn.fetch(MARKS, session_id, day), AttendanceOut)


async def audit(db: Db, principal: Principal, session_id: uuid.UUID) -> list[AuditOut]:
    async with db.read() as conn:
        await owned_session(conn, principal, session_id)
        return many(await conn.fetch(AUDIT, session_id), AuditOut)
