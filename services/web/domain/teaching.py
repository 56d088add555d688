"""An instructor's work as data: the attendance grid and assessment results, read from forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

MARKS = ("present", "late", "excused", "absent")
RESULTS = ("passed", "failed")


@dataclass(frozen=True)
class Grid:
    records: list[dict[str, str]]
    reason: str
    errors: dict[str, str]  # field -> message key


def read_grid(form: dict[str, str], officials: list[str]) -> Grid:
    """One mark per enrolled official from ``mark-<official_id>`` fields; unmarked rows are left out."""
    records, errors = [], {}
    for official in officials:
        value = form.get(f"mark-{official}", "")
        if not value:
            continue
        if value not in MARKS:
            errors[official] = "attendance.bad_mark"
            continue
        records.append({"official_id": official, "status": value})
    if not records and not errors:
        errors["form"] = "attendance.none"
    return Grid(records, form.get("reason", "").strip(), errors)


def assessment_events(
    form: dict[str, str], officials: list[str], module: str, now: datetime, batch: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Learning events for the results typed in: ``result-<id>`` passed/failed and ``score-<id>`` 0-100."""
    events, errors = [], {}
    for official in officials:
        result = form.get(f"result-{official}", "")
        raw = form.get(f"score-{official}", "").strip()
        if not result and not raw:
            continue
        if result not in RESULTS:
            errors[official] = "assessment.choose"
            continue
        score = None
        if raw:
            try:
                score = float(raw)
            except ValueError:
                errors[official] = "assessment.score"
                continue
            if not 0 <= score <= 100:
                errors[official] = "assessment.score"
                continue
        event: dict[str, Any] = {
            "id": f"web-{batch}-{official}"[:128],
            "official_id": official,
            "module": module,
            "verb": result,
            "occurred_at": now.isoformat(),
        }
        if score is not None:
            event["score"] = score
        events.append(event)
    if not events and not errors:
        errors["form"] = "assessment.none"
    return events, errors


def assessable_modules(curriculum: dict[str, Any], level: int) -> list[dict[str, Any]]:
    """Modules of ``level`` whose rule needs a result an instructor records (passed, or the final)."""
    for lv in curriculum.get("levels", []):
        if lv.get("level") == level:
            return [
                m
                for course in lv.get("courses", [])
                for m in course.get("modules", [])
                if m.get("final") or m.get("rule") in ("passed", "completed_and_passed")
            ]
    return []


def session_days(session: dict[str, Any], today: date) -> list[tuple[str, bool]]:
    """Each day of the session with whether attendance can be taken yet (not in the future)."""
    return [(d, date.fromisoformat(d) <= today) for d in session.get("days", [])]
