"""Dates and times as people in the programme read them: Asia/Seoul, in the page's language."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")
WEEKDAYS = {"ko": "월화수목금토일", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def parse_dt(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seoul(value: str | datetime | None, lang: str) -> str:
    """``2026-03-02 14:05 KST`` (en) / ``2026년 3월 2일 14:05`` (ko); naive times are taken as UTC."""
    moment = parse_dt(value)
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(SEOUL)
    if lang == "ko":
        return f"{local.year}년 {local.month}월 {local.day}일 {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M} KST"


def day(value: str | date | None, lang: str) -> str:
    """A calendar day (session days are dates in Seoul already): ``2026-03-02 (Mon)`` / ``2026년 3월 2일 (월)``."""
    if value is None or value == "":
        return ""
    d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if lang == "ko":
        return f"{d.year}년 {d.month}월 {d.day}일 ({WEEKDAYS['ko'][d.weekday()]})"
    return f"{d.isoformat()} ({WEEKDAYS['en'][d.weekday()]})"


def percent(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.0f}%" if value <= 1 else f"{value:.0f}%"
