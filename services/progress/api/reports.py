"""Admin reports, as JSON or as a streamed CSV download (the same path with ``.csv``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, TypeVar

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Stream

from services.common.auth import allow
from services.common.export import CSV, stream_csv
from services.progress.domain.reports import Table
from services.progress.schemas import AttendanceReport, CapacityReport, CompletionReport
from services.progress.store import reports
from services.progress.store.base import Db

R = TypeVar("R")
ByLevelOrSession = Literal["level", "session"]
ByLevelOrOrg = Literal["level", "org"]
By = Parameter(default="level", description="Group rows by level or by session.")
ByOrg = Parameter(default="level", description="Group rows by level, or by organisation unit and level.")
Org = Parameter(default=None, max_length=64, description="Only officials of this organisation unit.")


def as_report(table: Table, kind: type[R]) -> R:
    name, columns, rows = table
    return msgspec.convert({"report": name, "columns": columns, "rows": rows}, kind)


def as_csv(table: Table) -> Stream:
    name, columns, rows = table

    async def gen() -> AsyncIterator[Sequence[Any]]:
        for r in rows:
            yield [r[c] for c in columns]  # the kernel writer neutralises formula cells

    return stream_csv(columns, gen(), f"{name}.csv")


class ReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]
    opt = allow("admin")

    @get("/capacity", summary="Capacity report")
    async def capacity(self, db: NamedDependency[Db], by: ByLevelOrSession = By) -> CapacityReport:
        """Enrolled against capacity: per level (duration, seats per session, sessions, seats,
        enrolled, waitlisted, fill rate; the programme table, live) or per session."""
        return as_report(await reports.capacity(db, by), CapacityReport)

    @get("/capacity.csv", media_type=CSV, summary="Capacity report (CSV)")
    async def capacity_csv(self, db: NamedDependency[Db], by: ByLevelOrSession = By) -> Stream:
        """The capacity report as a streamed CSV download."""
        return as_csv(await reports.capacity(db, by))

    @get("/completion", summary="Completion funnel")
    async def completion(
        self, db: NamedDependency[Db], by: ByLevelOrOrg = ByOrg, org: str | None = Org
    ) -> CompletionReport:
        """By level (and organisation unit with ``by=org``): officials placed at the level, who
        reached it, are at it now, are enrolled at it, and completed it; completion rate =
        completed / reached."""
        return as_report(await reports.completion(db, by, org), CompletionReport)

    @get("/completion.csv", media_type=CSV, summary="Completion funnel (CSV)")
    async def completion_csv(self, db: NamedDependency[Db], by: ByLevelOrOrg = ByOrg, org: str | None = Org) -> Stream:
        """The completion funnel as a streamed CSV download."""
        return as_csv(await reports.completion(db, by, org))

    @get("/attendance", summary="Attendance report")
    async def attendance(self, db: NamedDependency[Db], by: ByLevelOrSession = By) -> AttendanceReport:
        """Attendance rates: (present + late) / (marks - excused), by level or session."""
        return as_report(await reports.attendance(db, by), AttendanceReport)

    @get("/attendance.csv", media_type=CSV, summary="Attendance report (CSV)")
    async def attendance_csv(self, db: NamedDependency[Db], by: ByLevelOrSession = By) -> Stream:
        """Attendance rates as a streamed CSV download."""
        return as_csv(await reports.attendance(db, by))
