# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""Admin reports, as JSON or streamed CSV (``?format=csv``).

- capacity: enrolled against capacity by level (the DESIGN.md table, live) or by session;
- completion: the funnel (placed, reached, in progress, enrolled, completed) and completion
  rate by level, optionally by organisation unit;
- attendance: attendance rates by level or by session.

Each report is one or two aggregate queries; the funnel reads only the ``official`` table (the
path is two small integers per official), so it stays fast at national scale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from litestar.response import Stream

from services.common.auth import allow
from services.progress import engine
from services.progress.api.util import csv_stream
from services.progress.db import connect

Format = Literal["json", "csv"]


def respond(name: str, columns: list[str], rows: list[dict[str, Any]], fmt: Format) -> Response[Any] | Stream:
    if fmt == "json":
        return Response({"report": name, "columns": columns, "rows": rows})

    async def gen() -> AsyncIterator[Iterable[Any]]:
        for r in rows:
            yield [r[c] for c in columns]

    return Stream(
        csv_stream(columns, gen()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


class ReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]
    guards = [allow("admin")]

    @get("/capacity")
    async def capacity(
        self,
        request: Request[Any, Any, Any],
        by: Literal["level", "session"] = Parameter(default="level"),
        format: Format = Parameter(default="json"),
    ) -> Response[Any] | Stream:
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
                return respond("capacity-by-session", columns, rows, format)
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
        return respond("capacity-by-level", columns, rows, format)

    @get("/completion")
    async def completion(
        self,
        request: Request[Any, Any, Any],
        by: Literal["level", "org"] = Parameter(default="level"),
        org: str | None = Parameter(default=None),
        format: Format = Parameter(default="json"),
    ) -> Response[Any] | Stream:
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
        return respond(f"completion-by-{by}", columns, rows, format)

    @get("/attendance")
    async def attendance(
        self,
        request: Request[Any, Any, Any],
        by: Literal["level", "session"] = Parameter(default="level"),
        format: Format = Parameter(default="json"),
    ) -> Response[Any] | Stream:
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
        return respond(f"attendance-by-{by}", columns, rows, format)
