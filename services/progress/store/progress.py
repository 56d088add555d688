# ruff: noqa: S608  (SQL is assembled from the fold table and constant fragments; values are bound parameters)
"""Module progress and level completion: the forward-only fold into ``module_progress``, what
the rules need about a set of officials (one round trip), and applying what follows (completed
levels with their certificate requests in the outbox, the next current level, review flags) in
the caller's transaction. Raw asyncpg: the event benchmark chose one set-based statement per
batch over the ORM."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec

from services.common.db import utcnow
from services.common.outbox import enqueue_raw
from services.progress.domain.completion import FOLD, Attendance, FoldField, Merge, ModuleProgress
from services.progress.domain.curriculum import Curriculum
from services.progress.domain.path import Completion, OfficialState, advance, certificate_body, certificate_path
from services.progress.store.base import Conn


def _aggregate(f: FoldField) -> str:
    """The fold of one field over a group of events, as an SQL aggregate."""
    fn, source = ("min", "occurred_at") if f.merge is Merge.EARLIEST else ("max", "score")
    where = f" FILTER (WHERE verb = '{f.verb.value}')" if f.verb is not None else ""
    return f"{fn}({source}){where}"


def _merge(f: FoldField) -> str:
    """The fold of one field into a stored row (LEAST/GREATEST ignore NULL, as the fold does)."""
    fn = "LEAST" if f.merge is Merge.EARLIEST else "GREATEST"
    return f"{f.name} = {fn}(p.{f.name}, EXCLUDED.{f.name})"


FOLD_NAMES = [f.name for f in FOLD]
FOLD_COLUMNS = ", ".join(FOLD_NAMES)
FOLD_AGGREGATES = ", ".join(_aggregate(f) for f in FOLD)
FOLD_MERGE = ", ".join(_merge(f) for f in FOLD)

# Insert a batch of events (new ids only) and fold the inserted ones into module_progress.
# $9, when given, is the curriculum the events were validated against: the statement stores
# nothing and answers current = false unless it is the published one (in the statement's own
# snapshot), so a caller may validate against the curriculum it last saw instead of reading it first.
_STILL_PUBLISHED = (
    "($9::uuid IS NULL OR EXISTS (SELECT 1 FROM curriculum_version WHERE id = $9 AND status = 'published'))"
)
MERGE_EVENTS = f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::timestamptz[],
                         $7::text[])
           AS t(event_id, official_id, module_code, verb, score, occurred_at, content_hash)
    WHERE {_STILL_PUBLISHED}
), ins AS (
    INSERT INTO learning_event (event_id, official_id, module_code, verb, score, occurred_at, content_hash,
                                source, received_at)
    SELECT event_id, official_id, module_code, verb, score, occurred_at, content_hash, $8, now() FROM input
    ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING official_id, module_code, verb, score, occurred_at
), merged AS (
    INSERT INTO module_progress AS p (official_id, module_code, {FOLD_COLUMNS}, event_count, updated_at)
    SELECT official_id, module_code, {FOLD_AGGREGATES}, count(*), now()
    FROM ins GROUP BY official_id, module_code
    ORDER BY official_id, module_code  -- one lock order for every batch, so batches do not deadlock
    ON CONFLICT (official_id, module_code) DO UPDATE SET
        {FOLD_MERGE}, event_count = p.event_count + EXCLUDED.event_count, updated_at = now()
    RETURNING p.official_id, p.module_code, {", ".join("p." + f.name for f in FOLD)}
)
SELECT (SELECT count(*) FROM ins) AS inserted,
       (SELECT coalesce(json_agg(merged), '[]') FROM merged)::text AS merged,
       {_STILL_PUBLISHED} AS current
"""
STORED_HASHES = "SELECT event_id, content_hash FROM learning_event WHERE event_id = ANY($1::text[])"
DELETE_PROGRESS = "DELETE FROM module_progress WHERE official_id = ANY($1::text[])"
# Fold every stored, non-voided event of the officials again.
REBUILD_PROGRESS = f"""
INSERT INTO module_progress (official_id, module_code, {FOLD_COLUMNS}, event_count, updated_at)
SELECT official_id, module_code, {FOLD_AGGREGATES}, count(*), now()
FROM learning_event
WHERE official_id = ANY($1::text[]) AND voided_at IS NULL
GROUP BY official_id, module_code
"""

# Everything the rules need about a set of officials, in one round trip.
STATES = f"""
SELECT coalesce(json_agg(json_build_array(
    o.id, o.name, o.org, o.placed_level, o.current_level,
    (SELECT coalesce(json_agg(json_build_array(p.module_code, {", ".join("p." + f.name for f in FOLD)})), '[]')
     FROM module_progress p WHERE p.official_id = o.id),
    (SELECT coalesce(json_agg(json_build_array(x.level, x.days, x.present, x.late, x.excused, x.last_attended)), '[]')
     FROM (SELECT e.level, cardinality(s.days) AS days,
                  count(a.day) FILTER (WHERE a.status = 'present') AS present,
                  count(a.day) FILTER (WHERE a.status = 'late') AS late,
                  count(a.day) FILTER (WHERE a.status = 'excused') AS excused,
                  max(a.day) FILTER (WHERE a.status IN ('present', 'late')) AS last_attended
           FROM enrolment e
           JOIN cohort_session s ON s.id = e.session_id
           LEFT JOIN attendance a ON a.session_id = e.session_id AND a.official_id = e.official_id
           WHERE e.official_id = o.id AND e.status = 'enrolled'
           GROUP BY e.id, e.level, s.days) AS x),
    (SELECT coalesce(json_agg(json_build_array(w.level, w.target, w.created_at)), '[]')
     FROM waiver w WHERE w.official_id = o.id),
    (SELECT coalesce(json_agg(json_build_array(c.level, c.completed_at, c.curriculum_version, c.certificate_id,
                                               c.certificate_serial, c.needs_review)), '[]')
     FROM level_completion c WHERE c.official_id = o.id)
) ORDER BY o.id), '[]')::text
FROM (SELECT * FROM official WHERE id = ANY($1::text[]) ORDER BY id {{lock}}) AS o
"""
STATES_LOCKED = STATES.format(lock="FOR UPDATE")
STATES_READ = STATES.format(lock="")
INSERT_COMPLETION = """
INSERT INTO level_completion (official_id, level, completed_at, recorded_at, curriculum_version, needs_review)
VALUES ($1, $2, $3, now(), $4, false)
ON CONFLICT DO NOTHING
RETURNING level
"""
MOVE_ON = "UPDATE official SET current_level = $2, updated_at = now() WHERE id = $1"
FLAG = """
UPDATE level_completion c SET needs_review = true, flagged_at = now(), review_reason = f.reason
FROM unnest($1::text[], $2::int[], $3::text[]) AS f(official_id, level, reason)
WHERE c.official_id = f.official_id AND c.level = f.level
"""
RECORD_CERTIFICATE = """
UPDATE level_completion SET certificate_id = $3, certificate_serial = $4,
       certificate_recorded_at = coalesce(certificate_recorded_at, now())
WHERE official_id = $1 AND level = $2
"""

Timestamp = datetime | None
Score = float | None


class _State(msgspec.Struct, array_like=True):
    id: str
    name: str
    org: str
    placed_level: int
    current_level: int
    progress: list[tuple[str, Timestamp, Timestamp, Timestamp, Score, Timestamp, Score]]
    attendance: list[tuple[int, int, int, int, int, date | None]]
    waivers: list[tuple[int, str, datetime]]
    completions: list[tuple[int, datetime, str, uuid.UUID | None, str | None, bool]]


_states = msgspec.json.Decoder(list[_State])


class Merged(msgspec.Struct):
    """A module_progress row as the merge left it."""

    official_id: str
    module_code: str
    started_at: Timestamp
    completed_at: Timestamp
    passed_at: Timestamp
    best_score: Score
    attended_at: Timestamp
    best_pass_score: Score

    def progress(self) -> ModuleProgress:
        return ModuleProgress(**{name: getattr(self, name) for name in FOLD_NAMES})


merged_rows = msgspec.json.Decoder(list[Merged])


async def load_states(conn: Conn, official_ids: list[str], *, lock: bool) -> dict[str, OfficialState]:
    """What the rules need for ``official_ids`` (their rows locked, in id order so concurrent
    callers cannot deadlock, if ``lock``)."""
    raw = await conn.fetchval(STATES_LOCKED if lock else STATES_READ, sorted(set(official_ids)))
    states: dict[str, OfficialState] = {}
    for r in _states.decode(raw):
        state = OfficialState(r.id, r.name, r.org, r.placed_level, r.current_level)
        for code, *progress in r.progress:  # the fold's fields, in FOLD order
            fields: dict[str, Any] = dict(zip(FOLD_NAMES, progress, strict=True))
            state.progress[code] = ModuleProgress(**fields)
        for level, days, present, late, excused, last in r.attendance:
            state.attendance[level] = Attendance(days, present, late, excused, last)
        for level, target, created in r.waivers:
            state.waivers[level][target] = created
        for level, completed_at, version, cid, serial, review in r.completions:
            state.completions[level] = Completion(completed_at, version, cid, serial, review)
        states[r.id] = state
    return states


@dataclass
class Outcome:
    completed: list[tuple[str, int, datetime]] = field(default_factory=list)
    flagged: int = 0
    officials: int = 0


async def evaluate(conn: Conn, curriculum: Curriculum, official_ids: list[str], *, review: bool = False) -> Outcome:
    """Complete every level whose rule is now met for ``official_ids`` and move their current
    level on; each completion requests its certificate through the outbox. With ``review``
    (recomputation), completed levels that no longer meet the rules are flagged, never revoked."""
    states = await load_states(conn, official_ids, lock=True)
    outcome = Outcome(officials=len(states))
    flags: list[tuple[str, int, str]] = []
    now = utcnow()
    for state in states.values():
        step = advance(curriculum, state, now, review=review)
        flags += [(state.id, level, reason) for level, reason in step.flags]
        for level, completed_at in step.completed:
            if await conn.fetchval(INSERT_COMPLETION, state.id, level, completed_at, curriculum.version) is None:
                continue
            body = certificate_body(state, completed_at, curriculum.version)
            await enqueue_raw(conn, "certification", "PUT", certificate_path(state.id, level), body)
            outcome.completed.append((state.id, level, completed_at))
        if step.current_level != state.current_level:
            await conn.execute(MOVE_ON, state.id, step.current_level)
    if flags:
        outcome.flagged = len(flags)
        await conn.execute(FLAG, [f[0] for f in flags], [f[1] for f in flags], [f[2] for f in flags])
    return outcome


async def rebuild(conn: Conn, official_ids: list[str]) -> None:
    """Fold the officials' stored, non-voided events into module progress again."""
    await conn.execute(DELETE_PROGRESS, official_ids)
    await conn.execute(REBUILD_PROGRESS, official_ids)


async def recompute(conn: Conn, curriculum: Curriculum | None, official_ids: list[str]) -> Outcome:
    """Rebuild the officials' progress and re-evaluate every level (flagging, never revoking)."""
    await rebuild(conn, official_ids)
    if curriculum is None:
        return Outcome()
    return await evaluate(conn, curriculum, official_ids, review=True)


async def record_certificate(conn: Conn, official_id: str, level: int, certificate_id: uuid.UUID, serial: str) -> None:
    """The certificate certification issued for a completed level (a redelivery writes the same)."""
    await conn.execute(RECORD_CERTIFICATE, official_id, level, certificate_id, serial)
