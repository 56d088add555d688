# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""The learner dashboard ("my path") and the same view for admins."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from services.common.auth import Principal, allow
from services.common.errors import Problem
from services.progress import engine
from services.progress.api.sessions import ENROLMENT_COLUMNS, enrolment_out
from services.progress.db import connect, today
from services.progress.domain.completion import module_met_at
from services.progress.schemas import (
    Certificate,
    DashboardOut,
    LevelStatus,
    ModuleStatus,
    NextStep,
    UpcomingDay,
)


async def build_dashboard(conn: engine.Conn, official_id: str) -> DashboardOut:
    states = await engine.load_states(conn, [official_id], lock=False)
    state = states.get(official_id)
    if state is None:
        raise Problem(
            404,
            "no-learning-path",
            "There is no learning path for this official yet: it starts when the placement diagnostic is done.",
        )
    curriculum = await engine.published(conn)
    levels: list[LevelStatus] = []
    current_eval = None
    for level in range(5):
        ko, en = curriculum.titles.get(f"level:{level}", ("", "")) if curriculum else ("", "")
        done = state.completions.get(level)
        if done is not None:
            levels.append(
                LevelStatus(level, ko, en, "completed", 100.0, done["completed_at"], needs_review=done["needs_review"])
            )
        elif level < state.placed_level:
            levels.append(LevelStatus(level, ko, en, "placed_out", 100.0))
        elif level == state.current_level and curriculum is not None:
            ev = engine.evaluate(curriculum, state, level)
            current_eval = ev
            modules = [
                ModuleStatus(
                    m.code,
                    *curriculum.titles[m.code],
                    required=m.required or m.final,
                    rule=str(m.rule),
                    met=m.code in ev.met_modules,
                    best_score=(state.progress.get(m.code).best_score if m.code in state.progress else None),  # type: ignore[union-attr]
                )
                for m in curriculum.levels[level].modules
            ]
            levels.append(
                LevelStatus(
                    level,
                    ko,
                    en,
                    "current",
                    ev.percent,
                    modules=modules,
                    attendance_rate=ev.attendance_rate,
                    missing=list(ev.missing),
                )
            )
        else:
            levels.append(LevelStatus(level, ko, en, "current" if level == state.current_level else "locked", 0.0))
    in_path = 5 - state.placed_level
    done_count = sum(1 for lv in state.completions if lv >= state.placed_level)
    fraction = (current_eval.percent / 100.0) if current_eval and state.current_level <= 4 else 0.0
    path_percent = round(100.0 * min(1.0, (done_count + fraction) / in_path), 1)

    rows = await conn.fetch(
        f"SELECT {ENROLMENT_COLUMNS} FROM enrolment WHERE official_id = $1 AND status <> 'withdrawn' ORDER BY seq",
        official_id,
    )
    enrolments = [await enrolment_out(conn, r) for r in rows]
    now = today()
    upcoming: list[UpcomingDay] = []
    enrolled_sessions = [e.session_id for e in enrolments if e.status == "enrolled"]
    if enrolled_sessions:
        for r in await conn.fetch(
            "SELECT id, title, place, d FROM cohort_session, unnest(days) AS d "
            "WHERE id = ANY($1::uuid[]) AND d >= $2 ORDER BY d, id",
            enrolled_sessions,
            now,
        ):
            upcoming.append(UpcomingDay(r["id"], r["d"], r["title"], r["place"]))

    next_step = await next_step_for(conn, state, current_eval, enrolments)
    certificates = [
        Certificate(
            level,
            c["completed_at"],
            c.get("curriculum_version", ""),
            c.get("certificate_id"),
            c.get("certificate_serial"),
            "issued" if c.get("certificate_serial") else "requested",
        )
        for level, c in sorted(state.completions.items())
    ]
    return DashboardOut(
        official_id=state.id,
        name=state.name,
        org=state.org,
        placed_level=state.placed_level,
        current_level=state.current_level if state.current_level <= 4 else None,
        path_percent_complete=path_percent,
        curriculum_version=curriculum.version if curriculum else None,
        levels=levels,
        next_step=next_step,
        enrolments=enrolments,
        upcoming_days=upcoming,
        certificates=certificates,
    )


async def next_step_for(conn: engine.Conn, state: engine.OfficialState, ev: Any, enrolments: list[Any]) -> NextStep:
    level = state.current_level
    if level > 4:
        return NextStep("done", "Every level of the programme is complete.")
    active = next((e for e in enrolments if e.level == level), None)
    if active is None:
        session = await conn.fetchrow(
            "SELECT id, starts_on, title FROM cohort_session WHERE level = $1 AND starts_on > $2 AND enrolment_open "
            "AND enrolled_count < seats ORDER BY starts_on, id LIMIT 1",
            level,
            today(),
        )
        if session is not None:
            return NextStep(
                "session",
                f"Enrol in {session['title']} (starts {session['starts_on']}).",
                session_id=session["id"],
                starts_on=session["starts_on"],
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


@get("/v1/me/path", guards=[allow("learner")], tags=["dashboard"])
async def my_path(request: Request[Any, Any, Any], principal: Principal) -> DashboardOut:
    """The caller's path: every level's status, the current level, percent complete, the next
    step, upcoming session days and certificates earned."""
    async with connect(request.app, transaction=False) as conn:
        return await build_dashboard(conn, principal.sub)


@get("/v1/officials/{official_id:str}/path", guards=[allow("admin")], tags=["dashboard"])
async def official_path(request: Request[Any, Any, Any], official_id: str) -> DashboardOut:
    """An official's path, as the official sees it."""
    async with connect(request.app, transaction=False) as conn:
        return await build_dashboard(conn, official_id)


__all__ = ["build_dashboard", "module_met_at", "my_path", "official_path"]
