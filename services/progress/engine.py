"""The service layer between HTTP and the pure completion rules: loads what the rules need for a
set of officials in a few set-based queries, applies the outcome (completions, the next current
level, review flags) and writes the certificate request to the outbox in the same transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeAlias
from urllib.parse import quote

import asyncpg
import msgspec

from services.common.db import utcnow
from services.common.outbox import enqueue_raw
from services.progress.db import iso, jsonb
from services.progress.domain.completion import (
    Attendance,
    LevelDef,
    LevelEvaluation,
    ModuleDef,
    ModuleProgress,
    Rule,
    evaluate_level,
    module_met_at,
)
from services.progress.schemas import CurriculumIn

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


@dataclass(frozen=True)
class Curriculum:
    """A parsed, immutable (published or retired) curriculum version."""

    id: uuid.UUID
    version: str
    spec: CurriculumIn
    levels: dict[int, LevelDef]
    modules: dict[str, ModuleDef]
    titles: dict[str, tuple[str, str]]  # module code or "level:N" -> (ko, en)

    def level_of(self, code: str) -> int | None:
        module = self.modules.get(code)
        return module.level if module else None


def parse_curriculum(cid: uuid.UUID, version: str, spec: CurriculumIn) -> Curriculum:
    levels: dict[int, LevelDef] = {}
    modules: dict[str, ModuleDef] = {}
    titles: dict[str, tuple[str, str]] = {}
    for lv in spec.levels:
        titles[f"level:{lv.level}"] = (lv.title_ko, lv.title_en)
        defs: list[ModuleDef] = []
        for c_index, course in enumerate(sorted(lv.courses, key=lambda c: c.order)):
            for m in course.modules:
                d = ModuleDef(
                    code=m.code,
                    level=lv.level,
                    course=course.code,
                    rule=Rule(m.rule),
                    required=m.required,
                    weight=m.weight,
                    order=c_index * 10_000 + m.order,
                    prerequisites=tuple(m.prerequisites),
                    min_score=m.min_score,
                    final=m.final,
                )
                defs.append(d)
                modules[m.code] = d
                titles[m.code] = (m.title_ko, m.title_en)
        levels[lv.level] = LevelDef(lv.level, tuple(defs), lv.attendance_threshold)
    return Curriculum(cid, version, spec, levels, modules, titles)


_cache: dict[uuid.UUID, Curriculum] = {}


async def published(conn: Conn) -> Curriculum | None:
    """The published curriculum. Versions are immutable once published, so the parsed form is
    cached by id; which version is published is read from the database every time."""
    row = await conn.fetchrow("SELECT id, version FROM curriculum_version WHERE status = 'published'")
    if row is None:
        return None
    return await by_id(conn, row["id"])


async def by_id(conn: Conn, cid: uuid.UUID) -> Curriculum | None:
    cached = _cache.get(cid)
    if cached is not None:
        return cached
    row = await conn.fetchrow("SELECT id, version, status, definition FROM curriculum_version WHERE id = $1", cid)
    if row is None:
        return None
    parsed = parse_curriculum(row["id"], row["version"], msgspec.convert(jsonb(row["definition"]), CurriculumIn))
    if row["status"] != "draft":
        _cache[cid] = parsed
    return parsed


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Outcome:
    completed: list[tuple[str, int, datetime]] = field(default_factory=list)
    flagged: int = 0
    officials: int = 0


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
    completions: dict[int, dict[str, Any]] = field(default_factory=dict)


class _State(msgspec.Struct, array_like=True):
    id: str
    name: str
    org: str
    placed_level: int
    current_level: int
    progress: list[
        tuple[str, datetime | None, datetime | None, datetime | None, float | None, datetime | None, float | None]
    ]
    attendance: list[tuple[int, int, int, int, int, date | None]]
    waivers: list[tuple[int, str, datetime]]
    completions: list[tuple[int, datetime, str, uuid.UUID | None, str | None, bool]]


_states = msgspec.json.Decoder(list[_State])

STATE_SQL = """
SELECT coalesce(json_agg(json_build_array(
    o.id, o.name, o.org, o.placed_level, o.current_level,
    (SELECT coalesce(json_agg(json_build_array(p.module_code, p.started_at, p.completed_at, p.passed_at,
                                               p.best_score, p.attended_at, p.best_pass_score)), '[]')
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
FROM (SELECT * FROM official WHERE id = ANY($1::text[]) ORDER BY id {lock}) AS o
"""


async def load_states(conn: Conn, official_ids: list[str], *, lock: bool) -> dict[str, OfficialState]:
    """Everything the rules need for ``official_ids`` in one round trip (official rows locked, in
    id order so concurrent callers cannot deadlock, if ``lock``)."""
    raw = await conn.fetchval(STATE_SQL.format(lock="FOR UPDATE" if lock else ""), sorted(set(official_ids)))
    states: dict[str, OfficialState] = {}
    for r in _states.decode(raw):
        state = OfficialState(r.id, r.name, r.org, r.placed_level, r.current_level)
        for code, started, completed, passed, best, attended, best_pass in r.progress:
            state.progress[code] = ModuleProgress(started, completed, passed, best, attended, best_pass)
        for level, days, present, late, excused, last in r.attendance:
            state.attendance[level] = Attendance(days, present, late, excused, last)
        for level, target, created in r.waivers:
            state.waivers[level][target] = created
        for level, completed_at, version, cid, serial, review in r.completions:
            state.completions[level] = {
                "completed_at": completed_at,
                "curriculum_version": version,
                "certificate_id": cid,
                "certificate_serial": serial,
                "needs_review": review,
            }
        states[r.id] = state
    return states


def evaluate(curriculum: Curriculum, state: OfficialState, level: int) -> LevelEvaluation:
    return evaluate_level(
        curriculum.levels[level], state.progress, state.attendance.get(level), state.waivers.get(level, {})
    )


def certificate_body(state: OfficialState, completed_at: datetime, version: str) -> dict[str, Any]:
    return {
        "official": {"id": state.id, "name": state.name, "org": state.org},
        "completed_at": iso(completed_at),
        "curriculum_version": version,
    }


def certificate_path(official_id: str, level: int) -> str:
    return f"/v1/officials/{quote(official_id, safe='')}/levels/{level}/certificate"


async def advance(conn: Conn, curriculum: Curriculum, official_ids: list[str], *, review: bool = False) -> Outcome:
    """Complete every level whose rule is now met for ``official_ids``, from each one's current
    level upward, and move the current level on. With ``review`` (recomputation after a
    republish or a voided event) completed levels are re-checked: one that no longer meets the
    rule is flagged for an admin, never revoked."""
    outcome = Outcome()
    states = await load_states(conn, official_ids, lock=True)
    outcome.officials = len(states)
    flags: list[tuple[str, int, str]] = []
    for state in states.values():
        if review:
            for level, done in sorted(state.completions.items()):
                if level not in curriculum.levels or done["needs_review"]:
                    continue
                result = evaluate(curriculum, state, level)
                if not result.met:
                    flags.append(
                        (
                            state.id,
                            level,
                            f"Curriculum {curriculum.version} no longer met after recomputation: "
                            + ", ".join(result.missing),
                        )
                    )
        level = state.current_level
        start = level
        while level <= 4:
            if level in state.completions:
                level += 1
                continue
            result = evaluate(curriculum, state, level)
            if not result.met:
                break
            completed_at = result.met_at or utcnow()
            inserted = await conn.fetchval(
                "INSERT INTO level_completion (official_id, level, completed_at, recorded_at, curriculum_version, "
                "needs_review) VALUES ($1, $2, $3, now(), $4, false) ON CONFLICT DO NOTHING RETURNING level",
                state.id,
                level,
                completed_at,
                curriculum.version,
            )
            if inserted is not None:
                await enqueue_raw(
                    conn,
                    "certification",
                    "PUT",
                    certificate_path(state.id, level),
                    certificate_body(state, completed_at, curriculum.version),
                )
                outcome.completed.append((state.id, level, completed_at))
            state.completions[level] = {"completed_at": completed_at}
            level += 1
        if level != start:
            await conn.execute(
                "UPDATE official SET current_level = $2, updated_at = now() WHERE id = $1", state.id, level
            )
            state.current_level = level
    if flags:
        outcome.flagged = len(flags)
        await conn.execute(
            "UPDATE level_completion c SET needs_review = true, flagged_at = now(), review_reason = f.reason "
            "FROM unnest($1::text[], $2::int[], $3::text[]) AS f(official_id, level, reason) "
            "WHERE c.official_id = f.official_id AND c.level = f.level",
            [f[0] for f in flags],
            [f[1] for f in flags],
            [f[2] for f in flags],
        )
    return outcome


def might_complete(curriculum: Curriculum, rows: list[dict[str, Any]]) -> list[str]:
    """Officials for whom a merged progress row now meets a required (or final) module's rule:
    only they can have completed a level, so only they are evaluated."""
    out: set[str] = set()
    for r in rows:
        module = curriculum.modules.get(r["module_code"])
        if module is None or not (module.required or module.final):
            continue
        progress = ModuleProgress(
            None, r["completed_at"], r["passed_at"], r["best_score"], r["attended_at"], r["best_pass_score"]
        )
        if module_met_at(module, progress) is not None:
            out.add(r["official_id"])
    return sorted(out)


async def rebuild_progress(conn: Conn, official_ids: list[str]) -> None:
    """Recompute module progress from the stored, non-voided events."""
    await conn.execute("DELETE FROM module_progress WHERE official_id = ANY($1::text[])", official_ids)
    await conn.execute(
        """
        INSERT INTO module_progress (official_id, module_code, started_at, completed_at, passed_at, best_score,
                                     attended_at, best_pass_score, event_count, updated_at)
        SELECT official_id, module_code, min(occurred_at),
               min(occurred_at) FILTER (WHERE verb = 'completed'),
               min(occurred_at) FILTER (WHERE verb = 'passed'),
               max(score),
               min(occurred_at) FILTER (WHERE verb = 'attended'),
               max(score) FILTER (WHERE verb = 'passed'),
               count(*), now()
        FROM learning_event
        WHERE official_id = ANY($1::text[]) AND voided_at IS NULL
        GROUP BY official_id, module_code
        """,
        official_ids,
    )


async def recompute(conn: Conn, curriculum: Curriculum, official_ids: list[str]) -> Outcome:
    await rebuild_progress(conn, official_ids)
    return await advance(conn, curriculum, official_ids, review=True)


def content_hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:32]


def day_list(days: list[date]) -> list[str]:
    return [d.isoformat() for d in days]
