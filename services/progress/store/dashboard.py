"""The learner dashboard: the official's path, enrolments, upcoming days and the first open
session when the next step is to enrol (read-only, no transaction)."""

from __future__ import annotations

from services.common.errors import Problem
from services.progress.db import today
from services.progress.domain import dashboard as view
from services.progress.domain.path import DONE
from services.progress.schemas import DashboardOut, UpcomingDay
from services.progress.store import curricula, progress
from services.progress.store.base import Conn, Db, many
from services.progress.store.sessions import active_of

UPCOMING = """
SELECT id AS session_id, d AS day, title, place FROM cohort_session, unnest(days) AS d
WHERE id = ANY($1::uuid[]) AND d >= $2
ORDER BY d, id
"""
OPEN_SESSION = """
SELECT id, starts_on, title FROM cohort_session
WHERE level = $1 AND starts_on > $2 AND enrolment_open AND enrolled_count < seats
ORDER BY starts_on, id
LIMIT 1
"""


async def _open_session(conn: Conn, level: int) -> view.OpenSession | None:
    row = await conn.fetchrow(OPEN_SESSION, level, today())
    return None if row is None else view.OpenSession(**dict(row))


async def dashboard(db: Db, official_id: str) -> DashboardOut:
    async with db.read() as conn:
        state = (await progress.load_states(conn, [official_id], lock=False)).get(official_id)
        if state is None:
            raise Problem(
                404,
                "no-learning-path",
                "There is no learning path for this official yet: it starts when the placement diagnostic is done.",
            )
        curriculum = await curricula.published(conn)
        levels, current = view.levels(curriculum, state)
        enrolments = await active_of(conn, official_id)
        seated = [e.session_id for e in enrolments if e.status == "enrolled"]
        upcoming = many(await conn.fetch(UPCOMING, seated, today()), UpcomingDay) if seated else []
        active = view.active_at(state, enrolments)
        wanted = active is None and state.current_level < DONE
        open_session = await _open_session(conn, state.current_level) if wanted else None
    return DashboardOut(
        official_id=state.id,
        name=state.name,
        org=state.org,
        placed_level=state.placed_level,
        current_level=state.current_level if state.current_level < DONE else None,
        path_percent_complete=view.path_percent(state, current),
        curriculum_version=curriculum.version if curriculum else None,
        levels=levels,
        next_step=view.next_step(state, current, active, open_session),
        enrolments=enrolments,
        upcoming_days=upcoming,
        certificates=view.certificates(state),
    )
