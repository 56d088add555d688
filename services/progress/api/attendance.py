"""Attendance: an instructor records a whole roster for one session day; corrections are audited."""

from __future__ import annotations

import uuid
from datetime import date

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from services.common.auth import Principal, allow
from services.progress.schemas import AttendanceOut, AuditOut, RosterIn, RosterOut
from services.progress.store import attendance
from services.progress.store.base import Db


class AttendanceController(Controller):
    path = "/v1/sessions/{session_id:uuid}/attendance"
    tags = ["attendance"]
    opt = allow("instructor", "admin")

    @put("/{day:date}", summary="Record a day's roster")
    async def record(
        self,
        db: NamedDependency[Db],
        principal: NamedDependency[Principal],
        session_id: FromPath[uuid.UUID],
        day: FromPath[date],
        data: JSONBody[RosterIn],
    ) -> RosterOut:
        """Present, late, excused or absent for officials enrolled in the session, on a day of
        the session that has happened. Changing a mark needs a ``reason`` and is audited."""
        return await attendance.record(db, principal, session_id, day, data)

    @get("/", summary="A session's attendance marks")
    async def roster(
        self,
        db: NamedDependency[Db],
        principal: NamedDependency[Principal],
        session_id: FromPath[uuid.UUID],
        day: date | None = Parameter(default=None),
    ) -> list[AttendanceOut]:
        """Every mark recorded for the session (or one day of it)."""
        return await attendance.marks(db, principal, session_id, day)

    @get("/audit", summary="A session's attendance audit trail")
    async def audit(
        self, db: NamedDependency[Db], principal: NamedDependency[Principal], session_id: FromPath[uuid.UUID]
    ) -> list[AuditOut]:
        """Every mark and correction, oldest first."""
        return await attendance.audit(db, principal, session_id)
