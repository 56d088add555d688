"""Attendance: an instructor records a whole roster for one session day.

One row per (session, official, day) (the primary key), so a day can never hold two marks for
one official; a correction updates the row and writes who changed what, when and why to the
audit table. Days that are not days of the session, or that lie in the future, are rejected.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, get, put
from litestar.params import JSONBody, Parameter

from services.common.auth import Principal, allow
from services.common.errors import Problem
from services.progress import engine
from services.progress.api.sessions import owned_session
from services.progress.api.util import wake_relay
from services.progress.db import connect, today
from services.progress.schemas import AttendanceOut, AuditOut, RosterIn, RosterOut


def attendance_out(r: Any) -> AttendanceOut:
    return AttendanceOut(r["official_id"], r["day"], r["status"], r["recorded_by"], r["updated_at"], r["revision"])


class AttendanceController(Controller):
    path = "/v1/sessions/{session_id:uuid}/attendance"
    tags = ["attendance"]

    @put("/{day:date}", guards=[allow("instructor", "admin")])
    async def record(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        session_id: uuid.UUID,
        day: date,
        data: JSONBody[RosterIn],
    ) -> RosterOut:
        """Record (or correct) the roster for one day: present, late, excused or absent for
        officials enrolled in the session. Changing a mark needs a ``reason`` and is audited."""
        seen: dict[str, int] = {}
        dupes = []
        for i, mark in enumerate(data.records):
            if mark.official_id in seen:
                dupes.append(
                    {
                        "index": i,
                        "official_id": mark.official_id,
                        "reason": f"also listed at index {seen[mark.official_id]}",
                    }
                )
            seen.setdefault(mark.official_id, i)
        if dupes:
            raise Problem(400, "duplicate-officials", "List each official once per day.", errors=dupes)
        completed = []
        async with connect(request.app) as conn:
            session = await owned_session(conn, principal, session_id)
            if day not in session["days"]:
                raise Problem(
                    422,
                    "day-outside-session",
                    f"{day} is not a day of this session; its days are "
                    f"{', '.join(d.isoformat() for d in session['days'])}.",
                )
            if day > today():
                raise Problem(
                    422, "day-in-future", f"{day} has not happened yet; record attendance on or after the day."
                )
            ids = [m.official_id for m in data.records]
            enrolled = {
                r["official_id"]
                for r in await conn.fetch(
                    "SELECT official_id FROM enrolment WHERE session_id = $1 AND status = 'enrolled' "
                    "AND official_id = ANY($2::text[])",
                    session_id,
                    ids,
                )
            }
            strangers = [
                {"index": i, "official_id": m.official_id, "reason": "not enrolled in this session"}
                for i, m in enumerate(data.records)
                if m.official_id not in enrolled
            ]
            if strangers:
                raise Problem(
                    422, "not-enrolled", "Only officials enrolled in the session can be marked.", errors=strangers
                )
            old = {
                r["official_id"]: r["status"]
                for r in await conn.fetch(
                    "SELECT official_id, status FROM attendance WHERE session_id = $1 AND day = $2 "
                    "AND official_id = ANY($3::text[]) FOR UPDATE",
                    session_id,
                    day,
                    ids,
                )
            }
            corrections = [m for m in data.records if m.official_id in old and old[m.official_id] != m.status]
            if corrections and not (data.reason and data.reason.strip()):
                raise Problem(
                    422,
                    "reason-required",
                    "Changing a recorded mark is a correction: say why in `reason`.",
                    errors=[
                        {"official_id": m.official_id, "from": old[m.official_id], "to": m.status} for m in corrections
                    ],
                )
            changed = [m for m in data.records if old.get(m.official_id) != m.status]
            if changed:
                await conn.execute(
                    """
                    INSERT INTO attendance AS a (session_id, official_id, day, status, recorded_by, recorded_at,
                                                 updated_at, revision)
                    SELECT $1, o, $2, s, $3, now(), now(), 1 FROM unnest($4::text[], $5::text[]) AS t(o, s)
                    ON CONFLICT (session_id, official_id, day) DO UPDATE
                    SET status = EXCLUDED.status, recorded_by = EXCLUDED.recorded_by, updated_at = now(),
                        revision = a.revision + 1
                    """,
                    session_id,
                    day,
                    principal.sub,
                    [m.official_id for m in changed],
                    [m.status for m in changed],
                )
                await conn.execute(
                    """
                    INSERT INTO attendance_audit (session_id, official_id, day, old_status, new_status, changed_by,
                                                  changed_at, reason)
                    SELECT $1, o, $2, nullif(f, ''), s, $3, now(), $4
                    FROM unnest($5::text[], $6::text[], $7::text[]) AS t(o, f, s)
                    """,
                    session_id,
                    day,
                    principal.sub,
                    data.reason,
                    [m.official_id for m in changed],
                    [old.get(m.official_id, "") for m in changed],
                    [m.status for m in changed],
                )
                curriculum = await engine.published(conn)
                if curriculum is not None:
                    completed = (await engine.advance(conn, curriculum, [m.official_id for m in changed])).completed
            rows = await conn.fetch(
                "SELECT official_id, day, status, recorded_by, updated_at, revision FROM attendance "
                "WHERE session_id = $1 AND day = $2 ORDER BY official_id",
                session_id,
                day,
            )
        if completed:
            wake_relay(request)
        return RosterOut(session_id, day, [attendance_out(r) for r in rows], len(changed))

    @get("/", guards=[allow("instructor", "admin")])
    async def roster(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        session_id: uuid.UUID,
        day: date | None = Parameter(default=None),
    ) -> list[AttendanceOut]:
        """Every mark recorded for the session (or one day of it)."""
        async with connect(request.app, transaction=False) as conn:
            await owned_session(conn, principal, session_id)
            rows = await conn.fetch(
                "SELECT official_id, day, status, recorded_by, updated_at, revision FROM attendance "
                "WHERE session_id = $1 AND ($2::date IS NULL OR day = $2) ORDER BY day, official_id",
                session_id,
                day,
            )
        return [attendance_out(r) for r in rows]

    @get("/audit", guards=[allow("instructor", "admin")])
    async def audit(
        self, request: Request[Any, Any, Any], principal: Principal, session_id: uuid.UUID
    ) -> list[AuditOut]:
        """The audit trail: every mark and correction, oldest first."""
        async with connect(request.app, transaction=False) as conn:
            await owned_session(conn, principal, session_id)
            rows = await conn.fetch(
                "SELECT official_id, day, old_status, new_status, changed_by, changed_at, reason "
                "FROM attendance_audit WHERE session_id = $1 ORDER BY id",
                session_id,
            )
        return [AuditOut(**dict(r)) for r in rows]
