"""Attendance roster rules: one mark per official per day, only on the session's past days, only
for enrolled officials, and a reason for every correction."""

from __future__ import annotations

from collections.abc import Container, Mapping
from datetime import date

from services.common.errors import Problem
from services.progress.schemas import AttendanceMark


def refuse_duplicates(records: list[AttendanceMark]) -> None:
    seen: dict[str, int] = {}
    dupes = []
    for i, mark in enumerate(records):
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


def check_day(day: date, session_days: list[date], today: date) -> None:
    if day not in session_days:
        raise Problem(
            422,
            "day-outside-session",
            f"{day} is not a day of this session; its days are {', '.join(d.isoformat() for d in session_days)}.",
        )
    if day > today:
        raise Problem(422, "day-in-future", f"{day} has not happened yet; record attendance on or after the day.")


def refuse_strangers(records: list[AttendanceMark], enrolled: Container[str]) -> None:
    strangers = [
        {"index": i, "official_id": m.official_id, "reason": "not enrolled in this session"}
        for i, m in enumerate(records)
        if m.official_id not in enrolled
    ]
    if strangers:
        raise Problem(422, "not-enrolled", "Only officials enrolled in the session can be marked.", errors=strangers)


def changes(records: list[AttendanceMark], old: Mapping[str, str], reason: str | None) -> list[AttendanceMark]:
    """The marks that change anything; changing a recorded mark is a correction and needs a reason."""
    corrections = [m for m in records if m.official_id in old and old[m.official_id] != m.status]
    if corrections and not (reason and reason.strip()):
        raise Problem(
            422,
            "reason-required",
            "Changing a recorded mark is a correction: say why in `reason`.",
            errors=[{"official_id": m.official_id, "from": old[m.official_id], "to": m.status} for m in corrections],
        )
    return [m for m in records if old.get(m.official_id) != m.status]
