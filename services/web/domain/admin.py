"""Admin forms and reports as data: a session form read and checked, report rows turned into charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.web.domain.charts import Bar, bars


@dataclass
class SessionForm:
    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field -> message key


def _int(form: dict[str, str], name: str, errors: dict[str, str], *, required: bool) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        if required:
            errors[name] = "form.required"
        return None
    try:
        return int(raw)
    except ValueError:
        errors[name] = "form.number"
        return None


def read_session_form(form: dict[str, str], *, create: bool) -> SessionForm:
    """The session form as an API body (create: POST; edit: PATCH with only the fields given)."""
    out = SessionForm()
    errors = out.errors
    for name in ("title", "place", "instructor_id"):
        value = form.get(name, "").strip()
        if value or not create:
            out.body[name] = value or None if name == "instructor_id" else value
    if create and not out.body.get("title"):
        errors["title"] = "form.required"
    for name in ("seats", "waitlist_limit") + (("level",) if create else ()):
        number = _int(form, name, errors, required=create and name != "waitlist_limit")
        if number is not None:
            out.body[name] = number
    if create:
        days = []
        for part in form.get("days", "").replace(",", " ").split():
            try:
                days.append(date.fromisoformat(part).isoformat())
            except ValueError:
                errors["days"] = "form.days"
        if not days and "days" not in errors:
            errors["days"] = "form.required"
        out.body["days"] = days
    if not create:
        out.body["enrolment_open"] = form.get("enrolment_open") == "on"
        out.body = {k: v for k, v in out.body.items() if v is not None or k == "instructor_id"}
    return out


def report_bars(rows: list[dict[str, Any]], label: str, value: str, *, as_percent: bool = False) -> list[Bar]:
    pairs = [(str(r.get(label, "")), float(r.get(value) or 0)) for r in rows]
    return bars(pairs, maximum=1.0 if as_percent else None, as_percent=as_percent)
