"""Synthetic national-scale data for benchmarks: officials, paths, completions, sessions,
enrolments, attendance, learning events and merged progress, built with set-based SQL
(``INSERT ... SELECT generate_series``) so 1.1 million officials and 5 million events take
minutes, not hours, on two cores. Used by ``bench/bench_progress_*.py`` and ``lms progress
generate``. Never run it against a database that holds real data: it is for benchmarks only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg

from services.common.db import plain_url
from services.progress.seed import PROGRAMME, seed

ORGS = 250


def module_codes() -> list[str]:
    return [m[0] for level in PROGRAMME for course in level[6] for m in course[3]]


async def generate(
    database_url: str,
    *,
    officials: int = 1_100_000,
    events: int = 5_000_000,
    sessions: int = 2_000,
    say: Callable[[str], Any] = print,
) -> dict[str, float]:
    """Fill a migrated, empty progress database; returns seconds per step."""
    timings: dict[str, float] = {}
    say(await seed(database_url))
    conn = await asyncpg.connect(plain_url(database_url), command_timeout=3600)
    codes = module_codes()

    async def step(name: str, sql: str, *args: Any) -> None:
        started = time.perf_counter()
        await conn.execute(sql, *args)
        timings[name] = time.perf_counter() - started
        say(f"{name}: {timings[name]:.1f} s")

    try:
        await conn.execute("SET synchronous_commit = off; SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'")
        if await conn.fetchval("SELECT count(*) FROM official") > 0:
            raise SystemExit("the database already holds officials; generate into a fresh database")
        await step(
            "officials",
            """
            INSERT INTO official (id, name, org, placed_level, current_level, placement_result_id,
                                  placement_completed_at, created_at, updated_at)
            SELECT 'off-' || g, 'Official ' || g, 'ORG-' || lpad((g % $2)::text, 3, '0'), p,
                   least(5, p + CASE WHEN g % 10 < 3 THEN 1 WHEN g % 10 = 3 THEN 2 ELSE 0 END),
                   'pr-' || g, now() - (g % 365) * interval '1 day', now(), now()
            FROM (SELECT g, CASE WHEN g % 100 < 45 THEN 0 WHEN g % 100 < 75 THEN 1 WHEN g % 100 < 90 THEN 2
                                 WHEN g % 100 < 97 THEN 3 ELSE 4 END AS p
                  FROM generate_series(1, $1::int) AS g) AS s
            """,
            officials,
            ORGS,
        )
        await step(
            "level completions",
            """
            INSERT INTO level_completion (official_id, level, completed_at, recorded_at, curriculum_version,
                                          certificate_serial, needs_review)
            SELECT o.id, lv, now() - interval '30 days', now(), '2026.1', 'LMS-' || o.id || '-' || lv, false
            FROM official o, generate_series(o.placed_level, o.current_level - 1) AS lv
            WHERE o.current_level > o.placed_level
            """,
        )
        await step(
            "sessions",
            """
            INSERT INTO cohort_session (id, level, title, place, instructor_id, seats, enrolment_open, days,
                                        starts_on, ends_on, enrolled_count, waitlisted_count, created_at, updated_at)
            SELECT gen_random_uuid(), lv, 'Bench session ' || g, 'Room ' || (g % 40), 'instructor-' || (g % 50),
                   20, true, d.days, d.days[1], d.days[cardinality(d.days)], 20, g % 7, now(), now()
            FROM (SELECT g, CASE WHEN g % 10 < 4 THEN 0 WHEN g % 10 < 8 THEN 1 WHEN g % 10 = 8 THEN 2
                                 ELSE 3 + g % 2 END AS lv FROM generate_series(1, $1::int) AS g) AS s,
                 LATERAL (SELECT array_agg(current_date + (g % 400 - 200) + i ORDER BY i) AS days
                          FROM generate_series(0, (ARRAY[0, 1, 4, 9, 9])[lv + 1]) AS i) AS d
            """,
            sessions,
        )
        await step(
            "enrolments",
            """
            INSERT INTO enrolment (id, session_id, official_id, level, status, created_by, created_at, updated_at)
            SELECT gen_random_uuid(), s.id, 'off-' || (s.rn * 20 + k), s.level, 'enrolled', 'bench', now(), now()
            FROM (SELECT id, level, row_number() OVER (ORDER BY id) - 1 AS rn FROM cohort_session
                  WHERE title LIKE 'Bench session %') AS s, generate_series(1, 20) AS k
            """,
        )
        await step(
            "attendance",
            """
            INSERT INTO attendance (session_id, official_id, day, status, recorded_by, recorded_at, updated_at,
                                    revision)
            SELECT e.session_id, e.official_id, d,
                   (ARRAY['present', 'present', 'present', 'present', 'late', 'excused', 'absent'])
                       [1 + abs(hashtext(e.official_id || d::text)) % 7],
                   'bench', now(), now(), 1
            FROM enrolment e JOIN cohort_session s ON s.id = e.session_id, unnest(s.days) AS d
            WHERE d < current_date
            """,
        )
        chunk = 1_000_000
        for start in range(0, events, chunk):
            end = min(events, start + chunk)
            await step(
                f"events {start:,}-{end:,}",
                """
                INSERT INTO learning_event (event_id, official_id, module_code, verb, score, occurred_at,
                                            content_hash, source, received_at)
                SELECT 'ev-' || g, 'off-' || (1 + (g::bigint * 7919) % $3), ($4::text[])[1 + g % $5],
                       (ARRAY['started', 'completed', 'passed', 'failed', 'started'])[1 + g % 5],
                       CASE WHEN g % 5 IN (2, 3) THEN (g % 101)::float8 END,
                       now() - (g % 500) * interval '1 hour', md5(g::text)::varchar(32), 'bench', now()
                FROM generate_series($1::bigint, $2::bigint) AS g
                """,
                start + 1,
                end,
                officials,
                codes,
                len(codes),
            )
        await step(
            "module progress",
            """
            INSERT INTO module_progress (official_id, module_code, started_at, completed_at, passed_at, best_score,
                                         attended_at, best_pass_score, event_count, updated_at)
            SELECT official_id, module_code, min(occurred_at), min(occurred_at) FILTER (WHERE verb = 'completed'),
                   min(occurred_at) FILTER (WHERE verb = 'passed'), max(score),
                   min(occurred_at) FILTER (WHERE verb = 'attended'), max(score) FILTER (WHERE verb = 'passed'),
                   count(*), now()
            FROM learning_event GROUP BY official_id, module_code
            """,
        )
        await step(
            "session counts",
            """
            UPDATE cohort_session s SET enrolled_count = least(s.seats, c.n)
            FROM (SELECT session_id, count(*) AS n FROM enrolment WHERE status = 'enrolled' GROUP BY session_id) c
            WHERE c.session_id = s.id
            """,
        )
        await step("analyze", "ANALYZE")
    finally:
        await conn.close()
    return timings
