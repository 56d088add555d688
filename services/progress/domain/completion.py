"""Completion rules: pure functions over a level's definition and an official's merged progress.

No I/O here. The service loads the curriculum, the official's module progress, attendance and
waivers, and asks :func:`evaluate_level` whether the level is complete and what is missing.

Rules per module (openedx/completion-style merged progress, so arrival order never matters):

- ``completed``: a completion was recorded.
- ``passed``: a pass was recorded and, if the module has ``min_score``, the best score reaches it.
- ``completed_and_passed``: both of the above.
- ``attended``: an "attended" event was recorded (a workshop or live module).

A level is complete when every required module meets its rule (or is waived), the attendance
rate at the official's session reaches the level's threshold (or is waived; levels without a
threshold need no attendance), and the final assessment module, if the level has one, is passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any


class Rule(StrEnum):
    COMPLETED = "completed"
    PASSED = "passed"
    COMPLETED_AND_PASSED = "completed_and_passed"
    ATTENDED = "attended"


class Verb(StrEnum):
    STARTED = "started"
    COMPLETED = "completed"
    PASSED = "passed"
    FAILED = "failed"
    ATTENDED = "attended"


@dataclass(frozen=True)
class ModuleDef:
    code: str
    level: int
    course: str
    rule: Rule
    required: bool = True
    weight: float = 1.0
    order: int = 0
    prerequisites: tuple[str, ...] = ()
    min_score: float | None = None
    final: bool = False


@dataclass(frozen=True)
class LevelDef:
    level: int
    modules: tuple[ModuleDef, ...]
    attendance_threshold: float | None = 0.8

    @property
    def final_module(self) -> ModuleDef | None:
        return next((m for m in self.modules if m.final), None)


@dataclass(frozen=True)
class ModuleProgress:
    """Merged progress of one official on one module; every field only ever moves forward."""

    started_at: datetime | None = None
    completed_at: datetime | None = None
    passed_at: datetime | None = None
    best_score: float | None = None
    attended_at: datetime | None = None
    best_pass_score: float | None = None  # the best score carried by a "passed" event


@dataclass(frozen=True)
class Attendance:
    """An official's attendance at the session they took for a level."""

    session_days: int
    present: int = 0
    late: int = 0
    excused: int = 0
    last_attended: date | None = None

    @property
    def rate(self) -> float:
        """Present or late days over session days; excused days leave the denominator."""
        counted = self.session_days - self.excused
        if counted <= 0:
            return 1.0 if self.session_days > 0 else 0.0
        return (self.present + self.late) / counted


@dataclass(frozen=True)
class LevelEvaluation:
    met: bool
    met_at: datetime | None
    percent: float
    required_total: int
    required_met: int
    missing: tuple[str, ...]
    attendance_rate: float | None
    attendance_ok: bool
    final_ok: bool
    next_module: str | None
    met_modules: frozenset[str] = field(default_factory=frozenset)


class Merge(StrEnum):
    """How a progress field moves forward: to the earliest time, or to the best score."""

    EARLIEST = "earliest"  # of the events' ``occurred_at``
    BEST = "best"  # of the events' ``score``


@dataclass(frozen=True)
class FoldField:
    """One field of :class:`ModuleProgress` (and column of ``module_progress``): which events
    feed it (``verb``; None for every event) and how they merge."""

    name: str
    merge: Merge
    verb: Verb | None = None


# The forward-only fold, defined once: the Python fold below and the SQL that merges a batch
# into ``module_progress`` and rebuilds it from stored events (``store/progress.py``) are both
# made from this table.
FOLD: tuple[FoldField, ...] = (
    FoldField("started_at", Merge.EARLIEST),
    FoldField("completed_at", Merge.EARLIEST, Verb.COMPLETED),
    FoldField("passed_at", Merge.EARLIEST, Verb.PASSED),
    FoldField("best_score", Merge.BEST),
    FoldField("attended_at", Merge.EARLIEST, Verb.ATTENDED),
    FoldField("best_pass_score", Merge.BEST, Verb.PASSED),
)


def _forward(merge: Merge, current: Any, new: Any) -> Any:
    """The merge of one value (None never wins, as with SQL's LEAST/GREATEST and aggregates)."""
    if new is None:
        return current
    if current is None:
        return new
    return min(current, new) if merge is Merge.EARLIEST else max(current, new)


def fold_event(
    progress: ModuleProgress | None, verb: str, occurred_at: datetime, score: float | None
) -> ModuleProgress:
    """Merge one event into progress, moving only forward (earliest times, best score)."""
    p = progress or ModuleProgress()
    values = {}
    for f in FOLD:
        current = getattr(p, f.name)
        feeds = f.verb is None or verb == f.verb
        new = (occurred_at if f.merge is Merge.EARLIEST else score) if feeds else None
        values[f.name] = _forward(f.merge, current, new)
    return ModuleProgress(**values)


def module_met_at(module: ModuleDef, progress: ModuleProgress | None) -> datetime | None:
    """When the module first met its rule, or None if it has not."""
    if progress is None:
        return None
    passed_at = progress.passed_at
    if passed_at is not None and module.min_score is not None:
        # only a pass carrying the minimum score counts (a high score on a failed attempt does not)
        if progress.best_pass_score is None or progress.best_pass_score < module.min_score:
            passed_at = None
    if module.rule is Rule.COMPLETED:
        return progress.completed_at
    if module.rule is Rule.PASSED:
        return passed_at
    if module.rule is Rule.ATTENDED:
        return progress.attended_at
    if progress.completed_at is None or passed_at is None:
        return None
    return max(progress.completed_at, passed_at)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _module_met_at(
    module: ModuleDef, progress: ModuleProgress | None, waivers: Mapping[str, datetime]
) -> datetime | None:
    """When the module met its rule, or was waived (itself, or as the level's final)."""
    at = module_met_at(module, progress)
    if at is not None:
        return at
    waived = waivers.get(f"module:{module.code}")
    return waivers.get("final") if waived is None and module.final else waived


@dataclass
class _Modules:
    met_codes: set[str] = field(default_factory=set)
    met_times: list[datetime] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    total_weight: float = 0.0
    met_weight: float = 0.0
    required_total: int = 0
    required_met: int = 0


def _modules(level: LevelDef, progress: Mapping[str, ModuleProgress], waivers: Mapping[str, datetime]) -> _Modules:
    out = _Modules()
    for module in level.modules:
        at = _module_met_at(module, progress.get(module.code), waivers)
        if at is not None:
            out.met_codes.add(module.code)
        if not (module.required or module.final):
            continue
        out.required_total += 1
        out.total_weight += module.weight
        if at is None:
            out.missing.append(f"module:{module.code}")
        else:
            out.required_met += 1
            out.met_weight += module.weight
            out.met_times.append(at)
    return out


def _attendance(
    threshold: float, attendance: Attendance | None, waived_at: datetime | None
) -> tuple[bool, datetime | None]:
    """Whether attendance reaches the threshold (or is waived), and since when if known."""
    if waived_at is not None:
        return True, waived_at
    if attendance is None or attendance.rate + 1e-9 < threshold:
        return False, None
    return True, None if attendance.last_attended is None else _day_start(attendance.last_attended)


def evaluate_level(
    level: LevelDef,
    progress: Mapping[str, ModuleProgress],
    attendance: Attendance | None,
    waivers: Mapping[str, datetime] | None = None,
) -> LevelEvaluation:
    """Is ``level`` complete for an official, when did it become so, and what is missing.

    ``waivers`` maps a waived target (``module:<code>``, ``attendance`` or ``final``) to when the
    waiver was granted; a waived target counts as met from that time."""
    waivers = waivers or {}
    modules = _modules(level, progress, waivers)
    missing, met_times = list(modules.missing), list(modules.met_times)
    attendance_ok = True
    attendance_rate = None
    if level.attendance_threshold is not None:
        attendance_rate = None if attendance is None else round(attendance.rate, 4)
        attendance_ok, since = _attendance(level.attendance_threshold, attendance, waivers.get("attendance"))
        if not attendance_ok:
            missing.append("attendance")
        if since is not None:
            met_times.append(since)
    final = level.final_module
    met = not missing
    total = modules.total_weight
    return LevelEvaluation(
        met=met,
        met_at=max(met_times) if met and met_times else None,
        percent=100.0 if total == 0 else round(100.0 * modules.met_weight / total, 1),
        required_total=modules.required_total,
        required_met=modules.required_met,
        missing=tuple(missing),
        attendance_rate=attendance_rate,
        attendance_ok=attendance_ok,
        final_ok=final is None or final.code in modules.met_codes,
        next_module=next_module(level, modules.met_codes),
        met_modules=frozenset(modules.met_codes),
    )


def next_module(level: LevelDef, met: set[str] | frozenset[str]) -> str | None:
    """The next required module to take: the first unmet one (in order) whose prerequisites are
    met, else the first unmet one."""
    pending = sorted(
        (m for m in level.modules if (m.required or m.final) and m.code not in met),
        key=lambda m: (m.final, m.order),
    )
    for module in pending:
        if all(p in met for p in module.prerequisites):
            return module.code
    return pending[0].code if pending else None


def check_prerequisites(modules: Iterable[ModuleDef]) -> list[str]:
    """Problems with prerequisite links: unknown codes and cycles."""
    by_code = {m.code: m for m in modules}
    problems = [
        f"module {m.code}: prerequisite {p} is not a module of this curriculum"
        for m in by_code.values()
        for p in m.prerequisites
        if p not in by_code
    ]
    state: dict[str, int] = {}

    def visit(code: str, trail: tuple[str, ...]) -> None:
        if state.get(code) == 2 or code not in by_code:
            return
        if state.get(code) == 1:
            problems.append(f"prerequisites form a cycle: {' -> '.join((*trail, code))}")
            return
        state[code] = 1
        for p in by_code[code].prerequisites:
            visit(p, (*trail, code))
        state[code] = 2

    for code in by_code:
        visit(code, ())
    return problems
