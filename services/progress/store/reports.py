"""Admin reports: one or two aggregate queries each; the funnel reads only the ``official`` table
(the path is two small integers per official), so it stays fast at national scale."""

from __future__ import annotations

from services.progress.domain import reports as tables
from services.progress.domain.reports import Table
from services.progress.store import curricula
from services.progress.store.base import Db

CAPACITY_BY_SESSION = """
SELECT level, id, title, starts_on, instructor_id, seats, enrolled_count, waitlisted_count
FROM cohort_session ORDER BY level, starts_on, id
"""
CAPACITY_BY_LEVEL = """
SELECT level, count(*) AS sessions, sum(seats) AS seats, sum(enrolled_count) AS enrolled,
       sum(waitlisted_count) AS waitlisted
FROM cohort_session GROUP BY level
"""
PATHS = """
SELECT {org} AS org, placed_level, current_level, count(*) AS n
FROM official WHERE ($1::text IS NULL OR org = $1)
GROUP BY 1, 2, 3
"""
PATHS_BY_LEVEL, PATHS_BY_ORG = PATHS.format(org="''"), PATHS.format(org="org")
ENROLLED = """
SELECT {org} AS org, e.level, count(*) AS n
FROM enrolment e JOIN official o ON o.id = e.official_id
WHERE e.status = 'enrolled' AND ($1::text IS NULL OR o.org = $1)
GROUP BY 1, 2
"""
ENROLLED_BY_LEVEL, ENROLLED_BY_ORG = ENROLLED.format(org="''"), ENROLLED.format(org="o.org")
ATTENDANCE = """
SELECT {key}, count(DISTINCT s.id) AS sessions,
       count(a.day) AS marks,
       count(a.day) FILTER (WHERE a.status = 'present') AS present,
       count(a.day) FILTER (WHERE a.status = 'late') AS late,
       count(a.day) FILTER (WHERE a.status = 'excused') AS excused,
       count(a.day) FILTER (WHERE a.status = 'absent') AS absent
FROM cohort_session s LEFT JOIN attendance a ON a.session_id = s.id
GROUP BY {key} ORDER BY {key}
"""
ATTENDANCE_BY_LEVEL = ATTENDANCE.format(key="s.level")
ATTENDANCE_BY_SESSION = ATTENDANCE.format(key="s.level, s.id, s.title, s.starts_on")


async def capacity(db: Db, by: str) -> Table:
    """Enrolled against capacity per level (beside the published curriculum) or per session."""
    async with db.read() as conn:
        if by == "session":
            return tables.capacity_by_session(await conn.fetch(CAPACITY_BY_SESSION))
        curriculum = await curricula.published(conn)
        return tables.capacity_by_level(curriculum, await conn.fetch(CAPACITY_BY_LEVEL))


async def completion(db: Db, by: str, org: str | None) -> Table:
    by_org = by == "org"
    async with db.read() as conn:
        paths = await conn.fetch(PATHS_BY_ORG if by_org else PATHS_BY_LEVEL, org)
        enrolled = await conn.fetch(ENROLLED_BY_ORG if by_org else ENROLLED_BY_LEVEL, org)
    return tables.completion(by, paths, enrolled)


async def attendance(db: Db, by: str) -> Table:
    async with db.read() as conn:
        groups = await conn.fetch(ATTENDANCE_BY_SESSION if by == "session" else ATTENDANCE_BY_LEVEL)
    return tables.attendance(by, groups)
