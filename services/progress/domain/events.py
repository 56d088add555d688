"""Which events of a batch may be stored: the checks that need no database, and the content
hash that tells a replay from a conflicting event with the same id."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container
from datetime import UTC, datetime
from typing import Any

from services.common.errors import Problem
from services.common.types import is_aware
from services.progress.schemas import EventIn

# Verbs a learner's own token may not assert about themselves (self-certification).
TRUSTED_VERBS = frozenset({"passed", "failed", "attended"})


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def content_hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:32]


def event_hash(e: EventIn) -> str:
    return content_hash(
        e.official_id, e.module, e.verb, None if e.score is None else repr(float(e.score)), iso(e.occurred_at)
    )


Errors = list[dict[str, Any]]


def _each(events: list[EventIn], bad: Callable[[EventIn], str | None]) -> Errors:
    return [{"index": i, "id": e.id, "reason": reason} for i, e in enumerate(events) if (reason := bad(e)) is not None]


def _untimed(e: EventIn) -> str | None:
    return None if is_aware(e.occurred_at) else "occurred_at needs a time zone (use UTC, ...Z)"


def _scoreless(e: EventIn) -> str | None:
    return f"a {e.verb} event carries no score" if e.score is not None and e.verb in ("started", "attended") else None


def refuse_duplicate_ids(events: list[EventIn]) -> None:
    """400 when an id appears twice in one batch (naming where it first appeared)."""
    first: dict[str, int] = {}
    errors: Errors = []
    for i, e in enumerate(events):
        if e.id in first:
            errors.append(
                {"index": i, "id": e.id, "reason": f"duplicate id in this batch (first at index {first[e.id]})"}
            )
        else:
            first[e.id] = i
    if errors:
        raise Problem(400, "duplicate-event-ids", "Each event id may appear once per batch.", errors=errors)


def _learner(sub: str) -> Callable[[EventIn], str | None]:
    def bad(e: EventIn) -> str | None:
        if e.official_id != sub:
            return "learners may only send their own events"
        if e.verb in TRUSTED_VERBS:
            return (
                f"a learner cannot report {e.verb}: assessment results and attendance come from "
                "the assessment service, an instructor or an admin"
            )
        return None

    return bad


def _untaught(
    taught: Container[tuple[str, int]], level_of: Callable[[str], int | None]
) -> Callable[[EventIn], str | None]:
    # entries are (official, level); a bare official id puts no rule on the level
    officials = {t if isinstance(t, str) else t[0] for t in taught}  # type: ignore[attr-defined]
    anylevel = {t for t in taught if isinstance(t, str)}  # type: ignore[attr-defined]

    def check(e: EventIn) -> str | None:
        if e.official_id not in officials:
            return "instructors may only record results for officials they teach"
        level = level_of(e.module)
        if level is not None and e.official_id not in anylevel and (e.official_id, level) not in taught:
            return f"module {e.module} is not in a level you teach this official"
        return None

    return check


def batch_problems(
    events: list[EventIn],
    *,
    learner: str | None,
    modules: Container[str],
    version: str,
    taught: Container[tuple[str, int]] | None,
    level_of: Callable[[str], int | None] = lambda _: None,
) -> Errors:
    """Every reason an event of the batch cannot be stored, by index. ``learner`` is the
    caller's id when the caller is only a learner; ``taught`` the (official, level) pairs an
    instructor-only caller teaches (None for callers who may report about anyone): an instructor
    records only for those officials, and only modules of those levels."""
    errors = _each(events, _untimed) + _each(events, _scoreless)
    if learner is not None:
        errors += _each(events, _learner(learner))
    errors += _each(
        events, lambda e: None if e.module in modules else f"unknown module {e.module} in curriculum {version}"
    )
    if taught is not None:
        errors += _each(events, _untaught(taught, level_of))
    errors.sort(key=lambda x: x["index"])
    return errors


def refuse_conflicts(events: list[EventIn], hashes: list[str], stored: dict[str, str]) -> None:
    """409 naming every event whose id was already stored with different content."""
    conflicts = [
        {"index": i, "id": e.id, "reason": "an event with this id was already received with different content"}
        for i, e in enumerate(events)
        if stored.get(e.id, hashes[i]) != hashes[i]
    ]
    if conflicts:
        raise Problem(
            409,
            "event-conflict",
            f"Event {conflicts[0]['id']} was already received with different content; "
            "event ids are immutable. No event in this batch was stored.",
            errors=conflicts,
        )
