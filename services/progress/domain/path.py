"""An official's learning path: what the rules need to know about one official, and what follows
from it (levels that complete, the next current level, completed levels to flag for review)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from services.progress.domain.completion import (
    Attendance,
    LevelEvaluation,
    ModuleProgress,
    evaluate_level,
    module_met_at,
)
from services.progress.domain.curriculum import Curriculum
from services.progress.domain.events import iso

DONE = 5  # the current level of an official who completed the programme


@dataclass(frozen=True)
class Completion:
    completed_at: datetime
    curriculum_version: str = ""
    certificate_id: uuid.UUID | None = None
    certificate_serial: str | None = None
    needs_review: bool = False


@dataclass
class OfficialState:
    id: str
    name: str
    org: str
    placed_level: int
    current_level: int
    progress: dict[str, ModuleProgress] = field(default_factory=dict)
    attendance: dict[int, Attendance] = field(default_factory=dict)
    waivers: dict[int, dict[str, datetime]] = field(default_factory=lambda: defaultdict(dict))
    completions: dict[int, Completion] = field(default_factory=dict)


def evaluate(curriculum: Curriculum, state: OfficialState, level: int) -> LevelEvaluation:
    return evaluate_level(
        curriculum.levels[level], state.progress, state.attendance.get(level), state.waivers.get(level, {})
    )


@dataclass
class Advance:
    """What changes for one official: levels to record as completed (with when), the new
    current level, and completed levels to flag (with why)."""

    completed: list[tuple[int, datetime]] = field(default_factory=list)
    current_level: int = 0
    flags: list[tuple[int, str]] = field(default_factory=list)


def review_flags(curriculum: Curriculum, state: OfficialState) -> list[tuple[int, str]]:
    """Completed levels that no longer meet the rules (never revoked: flagged for an admin)."""
    flags = []
    for level, done in sorted(state.completions.items()):
        if level not in curriculum.levels or done.needs_review:
            continue
        result = evaluate(curriculum, state, level)
        if not result.met:
            reason = f"Curriculum {curriculum.version} no longer met after recomputation: " + ", ".join(result.missing)
            flags.append((level, reason))
    return flags


def advance(curriculum: Curriculum, state: OfficialState, now: datetime, *, review: bool = False) -> Advance:
    """Complete every level whose rule is met, from the current level upward. A level's
    completion time is the latest fact that made it complete (``now`` if none is dated)."""
    out = Advance(flags=review_flags(curriculum, state) if review else [])
    completed = set(state.completions)
    level = state.current_level
    while level < DONE:
        if level not in completed:
            result = evaluate(curriculum, state, level)
            if not result.met:
                break
            out.completed.append((level, result.met_at or now))
            completed.add(level)
        level += 1
    out.current_level = level
    return out


def might_complete(curriculum: Curriculum, rows: Iterable[tuple[str, str, ModuleProgress]]) -> list[str]:
    """Officials for whom a merged (official, module, progress) row now meets a required (or
    final) module's rule: only they can have completed a level, so only they are evaluated."""
    out: set[str] = set()
    for official_id, code, progress in rows:
        module = curriculum.modules.get(code)
        if module is not None and (module.required or module.final) and module_met_at(module, progress) is not None:
            out.add(official_id)
    return sorted(out)


def certificate_path(official_id: str, level: int) -> str:
    return f"/v1/officials/{quote(official_id, safe='')}/levels/{level}/certificate"


def certificate_body(state: OfficialState, completed_at: datetime, version: str) -> dict[str, Any]:
    return {
        "official": {"id": state.id, "name": state.name, "org": state.org},
        "completed_at": iso(completed_at),
        "curriculum_version": version,
    }


def activity_levels(curriculum: Curriculum | None, levels: Iterable[int], module_codes: Iterable[str]) -> set[int]:
    """Levels with learning activity: those given (completions, active enrolments) and those of
    modules with progress."""
    out = set(levels)
    if curriculum is not None:
        out |= {lv for code in module_codes if (lv := curriculum.level_of(code)) is not None}
    return out
