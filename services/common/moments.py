"""The window of believable moments for times clients report (completions, learning events).

A moment more than ``FUTURE_SKEW`` ahead of now (clock skew allowance) or older than ``MAX_AGE``
is refused: ``2099-01-01`` and ``0`` (read as 1970) are mistakes, not history. A peer service's
message is only held to the past bound: refusing it would park it as dead, and progress dates a
completion by the day it falls on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FUTURE_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=20 * 365)


def out_of_window(moment: datetime, now: datetime | None = None, *, future: bool = False) -> str | None:
    """Why ``moment`` is not believable, or None (``future``: any later moment is fine)."""
    now = now or datetime.now(UTC)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if aware > now + FUTURE_SKEW and not future:
        return "is in the future"
    if aware < now - MAX_AGE:
        return f"is more than {MAX_AGE.days // 365} years ago"
    return None


def check_moment(moment: datetime, field: str, *, future: bool = False) -> datetime:
    """``moment`` when believable; raises ValueError (a 400 from a msgspec ``__post_init__``)."""
    reason = out_of_window(moment, future=future)
    if reason:
        raise ValueError(f"{field} {moment.isoformat()} {reason}")
    return moment
