# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""Admin reports, as JSON or as a streamed CSV download (the same path with ``.csv``).

- capacity: enrolled against capacity by level (the DESIGN.md table, live) or by session;
- completion: the funnel (placed, reached, in progress, enrolled, completed) and completion
  rate by level, optionally by organisation unit;
- attendance: attendance rates by level or by session.

Each report is one or two aggregate queries; the funnel reads only the ``official`` table (the
path is two small integers per official), so it stays fast at national scale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any, Generic, Literal, TypeVar

import msgspec
from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Stream

from services.common.auth import allow
from services.common.export import CSV, stream_csv
from services.progress import engine
from services.progress.db import connect

T = TypeVar("T")
Table = tuple[str, list[str], list[dict[str, Any]]]


class Report(msgspec.Struct, Generic[T]):
    report: str
    columns: list[str]
    rows: list[T]


class CapacityRow(msgspec.Struct, omit_defaults=True):
    level: int
    seats: int
    enrolled: int
    waitlisted: int
    fill_rate: float | None
    focus: str | None = None
    duration_days: int | None = None
    seats_per_session: int | None = None
    sessions: int | None = None
    session_id: str | None = None
    title: str | None = None
    starts_on: str | None = None
    instructor_id: str | None = None


class CompletionRow(msgspec.Struct, omit_defaults=True):
    level: int
    placed: int
    reached: int
    in_progress: int
    enrolled: int
    completed: int
    completion_rate: float | None
    org: str | None = None


class AttendanceRow(msgspec.Struct, omit_defaults=True):
    level: int
    sessions: int
    marks: int
    present: int
    late: int
    excused: int
    absent: int
    attendance_rate: float | None
    session_id: str | None = None
    title: str | None = None
    starts_on: str | None = None


def as_report(table: Table, row_type: type[T]) -> Report[T]:
    name, columns, rows = table
    return Report(name, columns, [msgspec.convert(r, row_type) for r in rows])


def safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def as_csv(table: Table) -> Stream:
    name, columns, rows = table

    async def gen() -> AsyncIterator[Sequence[Any]]:
        for r in rows:
            yield [safe(r[c]) for c in columns]

    return stream_csv(columns, gen(), f"{name}.csv")


def rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


async def capacity_table(request: Request[Any, Any, Any], by: str) -> Table:
    """Enrolled against capacity: per level (duration, seats per session, sessions, seats,
    enrolled, waitlisted, fill rate) or per session."""
    async with connect(request.app, transaction=False) as conn:
        curriculum = await engine.published(conn)
        if by == "session":
            rows = [
                {
                    "level": r["level"],
                    "session_id": str(r["id"]),
                    "title": r["title"],
                    "starts_on": r["starts_on"].isoformat(),
                    "instructor_id": r["instructor_id"],
                    "seats": r["seats"],
                    "enrolled": r["enrolled_count"],
                    "waitlisted": r["waitlisted_count"],
                    "fill_rate": rate(r["enrolled_count"], r["seats"]),
                }
                for r in await conn.fetch(
                    "SELECT level, id, title, starts_on, instructor_id, seats, enrolled_count, waitlisted_count "
                    "FROM cohort_session ORDER BY level, starts_on, id"
                )
            ]
            columns = [
                "level",
                "session_id",
                "title",
                "starts_on",
                "instructor_id",
                "seats",
                "enrolled",
                "waitlisted",
                "fill_rate",
            ]
            return "capacity-by-session", columns, rows
        agg = {
            r["level"]: r
            for r in await conn.fetch(
                "SELECT level, count(*) AS sessions, sum(seats) AS seats, sum(enrolled_count) AS enrolled, "
                "sum(waitlisted_count) AS waitlisted FROM cohort_session GROUP BY level"
            )
        }
    rows = []
    for level in range(5):
        spec = next((lv for lv in curriculum.spec.levels if lv.level == level), None) if curriculum else None
        a = agg.get(level)
        seats = int(a["seats"]) if a else 0
        enrolled = int(a["enrolled"]) if a else 0
        rows.append(
            {
                "level": level,
                "focus": spec.title_en if spec else "",
                "duration_days": spec.duration_days if spec else None,
                "seats_per_session": spec.seats_per_session if spec else None,
                "sessions": int(a["sessions"]) if a else 0,
                "seats": seats,
                "enrolled": enrolled,
                "waitlisted": int(a["waitlisted"]) if a else 0,
                "fill_rate": rate(enrolled, seats),
            }
        )
    columns = [
        "level",
        "focus",
        "duration_days",
        "seats_per_session",
        "sessions",
        "seats",
        "enrolled",
        "waitlisted",
        "fill_rate",
    ]
    return "capacity-by-level", columns, rows


async def completion_table(request: Request[Any, Any, Any], by: str, org: str | None) -> Table:
    """The funnel by level (and organisation unit with ``by=org``): officials placed at the
    level, who reached it, are at it now, are enrolled at it, and completed it; completion
    rate = completed / reached."""
    group_org = by == "org"
    async with connect(request.app, transaction=False) as conn:
        paths = await conn.fetch(
            "SELECT " + ("org, " if group_org else "'' AS org, ") + "placed_level, current_level, count(*) AS n "
            "FROM official WHERE ($1::text IS NULL OR org = $1) GROUP BY 1, 2, 3",
            org,
        )
        enrolled = await conn.fetch(
            "SELECT " + ("o.org, " if group_org else "'' AS org, ") + "e.level, count(*) AS n "
            "FROM enrolment e JOIN official o ON o.id = e.official_id "
            "WHERE e.status = 'enrolled' AND ($1::text IS NULL OR o.org = $1) GROUP BY 1, 2",
            org,
        )
    table: dict[tuple[str, int], dict[str, int]] = defaultdict(
        lambda: {"placed": 0, "reached": 0, "in_progress": 0, "enrolled": 0, "completed": 0}
    )
    for r in paths:
        for level in range(5):
            cell = table[(r["org"], level)]
            n = r["n"]
            if r["placed_level"] == level:
                cell["placed"] += n
            if r["placed_level"] <= level <= r["current_level"]:
                cell["reached"] += n
            if r["current_level"] == level:
                cell["in_progress"] += n
            if r["placed_level"] <= level < r["current_level"]:
                cell["completed"] += n
    for r in enrolled:
        table[(r["org"], r["level"])]["enrolled"] += r["n"]
    rows = [
        {"org": o, "level": lv, **cell, "completion_rate": rate(cell["completed"], cell["reached"])}
        for (o, lv), cell in sorted(table.items())
    ]
    columns = ["level", "placed", "reached", "in_progress", "enrolled", "completed", "completion_rate"]
    if group_org:
        columns = ["org", *columns]
    else:
        for r in rows:
            r.pop("org")
    return f"completion-by-{by}", columns, rows


async def attendance_table(request: Request[Any, Any, Any], by: str) -> Table:
    """Attendance rates: (present + late) / (marks - excused), by level or session."""
    key = "s.level, s.id, s.title, s.starts_on" if by == "session" else "s.level"
    async with connect(request.app, transaction=False) as conn:
        result = await conn.fetch(
            f"""
            SELECT {key}, count(DISTINCT s.id) AS sessions,
                   count(a.day) AS marks,
                   count(a.day) FILTER (WHERE a.status = 'present') AS present,
                   count(a.day) FILTER (WHERE a.status = 'late') AS late,
                   count(a.day) FILTER (WHERE a.status = 'excused') AS excused,
                   count(a.day) FILTER (WHERE a.status = 'absent') AS absent
            FROM cohort_session s LEFT JOIN attendance a ON a.session_id = s.id
            GROUP BY {key} ORDER BY {key}
            """
        )
    rows = []
    for r in result:
        row = {
            "level": r["level"],
            "sessions": r["sessions"],
            "marks": r["marks"],
            "present": r["present"],
            "late": r["late"],
            "excused": r["excused"],
            "absent": r["absent"],
            "attendance_rate": rate(r["present"] + r["late"], r["marks"] - r["excused"]),
        }
        if by == "session":
            row = {"session_id": str(r["id"]), "title": r["title"], "starts_on": r["starts_on"].isoformat(), **row}
        rows.append(row)
    columns = ["level", "sessions", "marks", "present", "late", "excused", "absent", "attendance_rate"]
    if by == "session":
        columns = ["level", "session_id", "title", "starts_on", *columns[2:]]
    return f"attendance-by-{by}", columns, rows


By = Parameter(default="level", description="Group rows by level or by session.")
ByOrg = Parameter(default="level", description="Group rows by level, or by organisation unit and level.")


class ReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]
    guards = [allow("admin")]

    @get("/capacity")
    async def capacity(
        self, request: Request[Any, Any, Any], by: Literal["level", "session"] = By
    ) -> Report[CapacityRow]:
        """Enrolled against capacity: per level (duration, seats per session, sessions, seats,
        enrolled, waitlisted, fill rate; the DESIGN.md table, live) or per session."""
        return as_report(await capacity_table(request, by), CapacityRow)

    @get("/capacity.csv", media_type=CSV)
    async def capacity_csv(self, request: Request[Any, Any, Any], by: Literal["level", "session"] = By) -> Stream:
        """The capacity report as a streamed CSV download."""
        return as_csv(await capacity_table(request, by))

    @get("/completion")
    async def completion(
        self,
        request: Request[Any, Any, Any],
        by: Literal["level", "org"] = ByOrg,
        org: str | None = Parameter(default=None, max_length=64),
    ) -> Report[CompletionRow]:
        """The funnel by level (and organisation unit with ``by=org``): officials placed at the
        level, who reached it, are at it now, are enrolled at it, and completed it; completion
        rate = completed / reached."""
        return as_report(await completion_table(request, by, org), CompletionRow)

    @get("/completion.csv", media_type=CSV)
    async def completion_csv(
        self,
        request: Request[Any, Any, Any],
        by: Literal["level", "org"] = ByOrg,
        org: str | None = Parameter(default=None, max_length=64),
    ) -> Stream:
        """The completion funnel as a streamed CSV download."""
        return as_csv(await completion_table(request, by, org))

    @get("/attendance")
    async def attendance(
        self, request: Request[Any, Any, Any], by: Literal["level", "session"] = By
    ) -> Report[AttendanceRow]:
        """Attendance rates: (present + late) / (marks - excused), by level or session."""
        return as_report(await attendance_table(request, by), AttendanceRow)

    @get("/attendance.csv", media_type=CSV)
    async def attendance_csv(self, request: Request[Any, Any, Any], by: Literal["level", "session"] = By) -> Stream:
        """Attendance rates as a streamed CSV download."""
        return as_csv(await attendance_table(request, by))
