"""Report tables from aggregate rows: capacity, the completion funnel and attendance rates.
A table is (name, columns, rows); the API answers it as JSON or streams it as CSV."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from services.progress.domain.curriculum import Curriculum

Row = Mapping[str, Any]
Table = tuple[str, list[str], list[dict[str, Any]]]


def rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


SESSION_CAPACITY = [
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
LEVEL_CAPACITY = [
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


def capacity_by_session(sessions: Iterable[Row]) -> Table:
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
        for r in sessions
    ]
    return "capacity-by-session", SESSION_CAPACITY, rows


def capacity_by_level(curriculum: Curriculum | None, per_level: Iterable[Row]) -> Table:
    """The DESIGN.md table, live: each level's focus, duration and seats per session from the
    published curriculum beside the sessions, seats, enrolled and waitlisted counts."""
    agg = {r["level"]: r for r in per_level}
    specs = {lv.level: lv for lv in curriculum.spec.levels} if curriculum else {}
    rows = []
    for level in range(5):
        spec, a = specs.get(level), agg.get(level)
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
    return "capacity-by-level", LEVEL_CAPACITY, rows


FUNNEL = ["level", "placed", "reached", "in_progress", "enrolled", "completed", "completion_rate"]


def _funnel_cell(cell: dict[str, int], level: int, placed: int, current: int, n: int) -> None:
    cell["placed"] += n if placed == level else 0
    cell["reached"] += n if placed <= level <= current else 0
    cell["in_progress"] += n if current == level else 0
    cell["completed"] += n if placed <= level < current else 0


def completion(by: str, paths: Iterable[Row], enrolled: Iterable[Row]) -> Table:
    """The funnel by level (and organisation unit with ``by == "org"``) from counts of officials
    per (org, placed level, current level) and active enrolments per (org, level); completion
    rate = completed / reached."""
    table: dict[tuple[str, int], dict[str, int]] = defaultdict(
        lambda: {"placed": 0, "reached": 0, "in_progress": 0, "enrolled": 0, "completed": 0}
    )
    for r in paths:
        for level in range(5):
            _funnel_cell(table[(r["org"], level)], level, r["placed_level"], r["current_level"], r["n"])
    for r in enrolled:
        table[(r["org"], r["level"])]["enrolled"] += r["n"]
    by_org = by == "org"
    rows = [
        {
            **({"org": o} if by_org else {}),
            "level": lv,
            **cell,
            "completion_rate": rate(cell["completed"], cell["reached"]),
        }
        for (o, lv), cell in sorted(table.items())
    ]
    return f"completion-by-{by}", ["org", *FUNNEL] if by_org else FUNNEL, rows


ATTENDANCE = ["level", "sessions", "marks", "present", "late", "excused", "absent", "attendance_rate"]


def attendance(by: str, groups: Iterable[Row]) -> Table:
    """Attendance rates: (present + late) / (marks - excused), by level or session."""
    by_session = by == "session"
    rows = []
    for r in groups:
        row = {
            **(
                {"session_id": str(r["id"]), "title": r["title"], "starts_on": r["starts_on"].isoformat()}
                if by_session
                else {}
            ),
            "level": r["level"],
            "sessions": r["sessions"],
            "marks": r["marks"],
            "present": r["present"],
            "late": r["late"],
            "excused": r["excused"],
            "absent": r["absent"],
            "attendance_rate": rate(r["present"] + r["late"], r["marks"] - r["excused"]),
        }
        rows.append(row)
    columns = ["level", "session_id", "title", "starts_on", *ATTENDANCE[2:]] if by_session else ATTENDANCE
    return f"attendance-by-{by}", columns, rows
