"""The learner dashboard, built from an official's path: each level's status, percent complete,
the next step and the certificates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from services.progress.domain.completion import LevelEvaluation
from services.progress.domain.curriculum import Curriculum
from services.progress.domain.path import DONE, OfficialState, evaluate
from services.progress.schemas import Certificate, EnrolmentOut, LevelStatus, ModuleStatus, NextStep


def _current(curriculum: Curriculum, state: OfficialState, level: int) -> tuple[LevelStatus, LevelEvaluation]:
    ev = evaluate(curriculum, state, level)
    modules = []
    for m in curriculum.levels[level].modules:
        progress = state.progress.get(m.code)
        modules.append(
            ModuleStatus(
                m.code,
                *curriculum.title(m.code),
                required=m.required or m.final,
                rule=m.rule.value,
                met=m.code in ev.met_modules,
                best_score=progress.best_score if progress else None,
            )
        )
    ko, en = curriculum.title(f"level:{level}")
    status = LevelStatus(
        level,
        ko,
        en,
        "current",
        ev.percent,
        modules=modules,
        attendance_rate=ev.attendance_rate,
        missing=list(ev.missing),
    )
    return status, ev


def levels(curriculum: Curriculum | None, state: OfficialState) -> tuple[list[LevelStatus], LevelEvaluation | None]:
    """Every level's status, and the evaluation of the current level (None without a curriculum
    or once the programme is done)."""
    out: list[LevelStatus] = []
    current: LevelEvaluation | None = None
    for level in range(DONE):
        ko, en = curriculum.title(f"level:{level}") if curriculum else ("", "")
        done = state.completions.get(level)
        if done is not None:
            out.append(
                LevelStatus(level, ko, en, "completed", 100.0, done.completed_at, needs_review=done.needs_review)
            )
        elif level < state.placed_level:
            out.append(LevelStatus(level, ko, en, "placed_out", 100.0))
        elif level == state.current_level and curriculum is not None:
            status, current = _current(curriculum, state, level)
            out.append(status)
        else:
            out.append(LevelStatus(level, ko, en, "current" if level == state.current_level else "locked", 0.0))
    return out, current


def path_percent(state: OfficialState, current: LevelEvaluation | None) -> float:
    """Completed levels of the path (from the placed level) plus the current level's fraction."""
    in_path = DONE - state.placed_level
    done = sum(1 for lv in state.completions if lv >= state.placed_level)
    fraction = current.percent / 100.0 if current is not None and state.current_level < DONE else 0.0
    return round(100.0 * min(1.0, (done + fraction) / in_path), 1)


def certificates(state: OfficialState) -> list[Certificate]:
    return [
        Certificate(
            level,
            c.completed_at,
            c.curriculum_version,
            c.certificate_id,
            c.certificate_serial,
            "issued" if c.certificate_serial else "requested",
        )
        for level, c in sorted(state.completions.items())
    ]


def active_at(state: OfficialState, enrolments: list[EnrolmentOut]) -> EnrolmentOut | None:
    """The official's enrolment at the current level, if any."""
    return next((e for e in enrolments if e.level == state.current_level), None)


@dataclass(frozen=True)
class OpenSession:
    id: uuid.UUID
    starts_on: date
    title: str


def next_step(
    state: OfficialState, ev: LevelEvaluation | None, active: EnrolmentOut | None, open_session: OpenSession | None
) -> NextStep:
    """What to do next: enrol in an open session, take the next module, wait for a seat,
    attend, or nothing (done). ``open_session`` is the first upcoming session with a free seat
    at the current level (looked up only when there is no ``active`` enrolment)."""
    level = state.current_level
    if level >= DONE:
        return NextStep("done", "Every level of the programme is complete.")
    if active is None and open_session is not None:
        return NextStep(
            "session",
            f"Enrol in {open_session.title} (starts {open_session.starts_on}).",
            session_id=open_session.id,
            starts_on=open_session.starts_on,
        )
    if ev is not None and ev.next_module is not None:
        return NextStep("module", f"Complete module {ev.next_module}.", module=ev.next_module)
    if active is None:
        return NextStep("wait", f"No level {level} session has a free seat yet; check back for new sessions.")
    if active.status == "waitlisted":
        return NextStep(
            "enrolled", f"You are number {active.waitlist_position} on the waitlist.", session_id=active.session_id
        )
    if ev is not None and not ev.attendance_ok:
        return NextStep(
            "attendance", "Attend the session days to reach the attendance threshold.", session_id=active.session_id
        )
    return NextStep("enrolled", "You are enrolled; attend the session.", session_id=active.session_id)
