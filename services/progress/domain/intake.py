"""The re-placement rule for a placement result about an official who already has a path.

A result newer than the applied one (by ``completed_at``) re-places the official at its level,
unless they already have learning activity (a completed level, an active enrolment, or module
progress) above the new level; then it is recorded with ``applied: false`` and the path stays.
Older results are recorded but never applied. When it applies, the current level is the first
level at or above the new one that is not completed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from services.progress.domain.events import content_hash, iso
from services.progress.schemas import PlacementIn


def placement_hash(data: PlacementIn) -> str:
    return content_hash(
        data.official.id,
        data.official.name,
        data.official.org,
        data.level,
        repr(float(data.ability)),
        repr(float(data.standard_error)),
        iso(data.completed_at),
    )


@dataclass(frozen=True)
class Decision:
    applied: bool
    detail: str


def first_path(level: int) -> Decision:
    return Decision(True, f"The learning path starts at level {level}.")


def stale(completed_at: datetime, applied_at: datetime) -> Decision | None:
    """A result not newer than the applied one is recorded only."""
    if completed_at <= applied_at:
        return Decision(False, "A placement completed at the same time or later is already applied; recorded only.")
    return None


def replace_path(level: int, activity: Collection[int]) -> Decision:
    """Whether a newer result for an official who has a path applies (``activity``: the levels
    with learning activity)."""
    above = sorted(lv for lv in set(activity) if lv > level)
    if above:
        return Decision(
            False,
            f"The official already has learning activity at level(s) {above}, above the "
            f"placed level {level}; the path is unchanged (recorded only).",
        )
    return first_path(level)


def current_level(level: int, completed: Collection[int]) -> int:
    """The first level at or above ``level`` that is not completed (5: the programme is done)."""
    while level in completed:
        level += 1
    return level
