"""Diagnostic sessions (the hot path): start or resume, answer, expire. Raw SQL over asyncpg.

- Answering (most requests) runs on the service's bare asyncpg pool with no explicit transaction,
  in one round trip when this process wrote the session's last answer (or started it) and two
  otherwise. The state an answer needs (the session's arrays, current item and last activity) is
  read from the database, or taken from :class:`LiveSessions`, this process's memory of the
  sessions it wrote last; the engine steps in Python; then one compare-and-set statement records
  the response, moves the session and counts the next item's exposure only if the session is still
  active, at that position, on that item and with that last activity, i.e. exactly in the state
  the step started from. Anything else (another replica or a concurrent duplicate moved it, an
  administrator changed it) records nothing and the answer is decided again on the locked path,
  which returns the stored first reply to a replay. (session_id, position) is unique as well.
  The same statement returns the live exposure figures (sessions started; items at or over the
  eligibility ceiling) when this process's are half a second old, and the next answers of this
  process use them for at most a second.
- The answer that ends a test, an idle session, and lost races take the locked path: one
  transaction on the bare pool, ``SELECT ... FOR UPDATE`` on the session row, and on completion the
  result, the closed session and the outbox message to progress.
- Starting is one transaction on the bare pool; at most one active session per official is a
  partial unique index, so concurrent starts create one session and the others resume it.
Exposure counts and sessions started live in the database (several replicas stay correct); only
published bank versions, which never change, are cached in process memory, besides the sessions
this process wrote last (a cache that is only trusted through the compare-and-set).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import utcnow, uuid7
from services.common.errors import Problem, not_found
from services.common.outbox import enqueue_raw
from services.placement.domain.cat.cat import Step, TestConfig, TestState, step
from services.placement.schemas import AnswerIn, AnswerOut, ResultSummary, ServedItem, SessionOut
from services.placement.settings import Settings
from services.placement.store.bank import LoadedVersion, VersionCache

SESSION_COLUMNS = (
    "id, official_id, version_id, status, config, items, scored, responses, current_idx, "
    "current_pretest, theta, se, started_at, last_activity_at, ended_at"
)
ACTIVE_SESSION = f"SELECT {SESSION_COLUMNS} FROM diagnostic_session WHERE official_id = $1 AND status = 'active'"  # noqa: S608
ACTIVE_SESSION_ID = "SELECT id FROM diagnostic_session WHERE official_id = $1 AND status = 'active'"
OWN_SESSION = f"SELECT {SESSION_COLUMNS} FROM diagnostic_session WHERE id = $1 AND official_id = $2"  # noqa: S608
RESULT_SUMMARY = "SELECT id, level, ability, standard_error, level_probabilities FROM result WHERE session_id = $1"
EXPIRE_IDLE = (
    "UPDATE diagnostic_session SET status = 'expired', ended_at = $3 "
    "WHERE official_id = $1 AND status = 'active' AND last_activity_at < $2"
)
EXPIRE_SESSION = "UPDATE diagnostic_session SET status = 'expired', ended_at = $2 WHERE id = $1"
USE_GRANT = "UPDATE retake_grant SET used_at = $2 WHERE official_id = $1 AND used_at IS NULL RETURNING id"
INSERT_RESULT = (
    "INSERT INTO result (id, session_id, official_id, version_id, level, ability, standard_error, "
    "level_probabilities, domains, items, length, stop_reason, completed_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)
CLOSE_SESSION = (
    "UPDATE diagnostic_session SET items = $2, scored = $3, responses = $4, current_idx = NULL, "
    "current_pretest = false, theta = $5, se = $6, last_activity_at = $7, ended_at = $7, status = 'completed' "
    "WHERE id = $1"
)
_rng = np.random.default_rng()


async def driver(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``, inside its transaction."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: without this,
        # statements sent on the bare connection would each commit on their own (and a FOR UPDATE
        # would lock nothing)
        await conn.exec_driver_sql("SELECT 1")
    return driver


@lru_cache(maxsize=64)
def config_from_json(text: str) -> TestConfig:
    data = json.loads(text)
    data["cuts"] = tuple(data["cuts"])
    data["content_targets"] = tuple(tuple(x) for x in data.get("content_targets", ()))
    return TestConfig(**data)


def config_json(cfg: TestConfig) -> str:
    data = {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
    return json.dumps(data, sort_keys=True)


def served(version: LoadedVersion, idx: int, position: int) -> ServedItem:
    return ServedItem(
        position=position,
        item_id=version.item_ids[idx],
        domain=version.domains[idx],
        stem=version.stems[idx],
        options=version.options[idx],
    )


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def session_out(row: Any, version: LoadedVersion | None, idle: timedelta, result: ResultSummary | None) -> SessionOut:
    active = row["status"] == "active"
    current = None
    if active and version is not None and row["current_idx"] is not None:
        current = served(version, row["current_idx"], len(row["items"]) + 1)
    return SessionOut(
        id=row["id"],
        status=row["status"],
        answered=len(row["items"]),
        started_at=row["started_at"],
        last_activity_at=row["last_activity_at"],
        expires_at=row["last_activity_at"] + idle if active else None,
        current_item=current,
        result=result,
    )


async def result_summary(conn: Any, session_id: uuid.UUID) -> ResultSummary | None:
    row = await conn.fetchrow(RESULT_SUMMARY, session_id)
    if row is None:
        return None
    return ResultSummary(
        row["id"], row["level"], row["ability"], row["standard_error"], list(row["level_probabilities"])
    )


async def expire_idle(conn: Any, official_id: str, idle: timedelta) -> None:
    await conn.execute(
        EXPIRE_IDLE,
        official_id,
        utcnow() - idle,
        utcnow(),
    )


START_EXISTING = (  # constants only
    "WITH expired AS (UPDATE diagnostic_session SET status = 'expired', ended_at = $3 "  # noqa: S608
    "WHERE official_id = $1 AND status = 'active' AND last_activity_at < $2 RETURNING id) "
    f"SELECT {SESSION_COLUMNS} FROM diagnostic_session "
    "WHERE official_id = $1 AND status = 'active' AND id NOT IN (SELECT id FROM expired)"
)
START_CONTEXT = (
    "SELECT (SELECT max(completed_at) FROM result WHERE official_id = $1) AS last, v.id, v.sessions_started, "
    "ARRAY(SELECT i.idx FROM version_item i WHERE i.version_id = v.id "
    "AND i.administered >= ceil($2::float8 * greatest(v.sessions_started + 1, $3::int))::bigint) AS over "
    "FROM (SELECT 1) AS one LEFT JOIN bank_version v ON v.active"
)
START_INSERT = (
    "WITH created AS (INSERT INTO diagnostic_session (id, official_id, official_name, official_org, version_id, "
    "status, config, items, scored, responses, current_idx, current_pretest, theta, se, started_at, "
    "last_activity_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, '{}', '{}', '{}', $7, $8, $9, $10, $11, $11) "
    "ON CONFLICT (official_id) WHERE status = 'active' DO NOTHING RETURNING id), "
    "started AS (UPDATE bank_version SET sessions_started = sessions_started + 1 "
    "WHERE id = $5 AND EXISTS (SELECT 1 FROM created)), "
    "counted AS (UPDATE version_item SET administered = administered + 1 "
    "WHERE version_id = $5 AND idx = $7 AND EXISTS (SELECT 1 FROM created)) "
    "SELECT id FROM created"
)


class _LostRace(Exception):
    """A concurrent start created the official's session first."""


async def start(
    pool: Any, cache: VersionCache, settings: Settings, principal: Any, live: LiveSessions | None = None
) -> tuple[SessionOut, bool]:
    """Resume the official's active session, or start one (at most one active per official: a
    partial unique index). Returns (session, created). One transaction on the bare pool; a new
    session is remembered in ``live`` once committed."""
    idle = timedelta(minutes=settings.session_idle_minutes)
    now = utcnow()
    async with pool.acquire(timeout=settings.db_acquire_timeout_seconds) as conn:
        made = None
        try:
            async with conn.transaction():
                existing = await conn.fetchrow(START_EXISTING, principal.sub, now - idle, now)
                if existing is None:
                    made = await _create(conn, cache, settings, principal, now, idle)
                    if made is None:
                        raise _LostRace  # roll back (a retake grant used above stays unused)
            if made is not None:
                created, state = made
                if live is not None:
                    live.remember(*state)
                return created, True
        except _LostRace:
            existing = None
        # a concurrent start won (or the session already existed): resume that one
        if existing is None:
            existing = await conn.fetchrow(ACTIVE_SESSION, principal.sub)
            if existing is None:
                raise Problem(409, "conflict", "Another start is in progress; try again.")
        return session_out(existing, await cache.get(conn, existing["version_id"]), idle, None), False


async def _create(
    conn: Any, cache: VersionCache, settings: Settings, principal: Any, now: datetime, idle: timedelta
) -> tuple[SessionOut, tuple[dict[str, Any], tuple[int, list[int]]]] | None:
    """The new session, and its state with the exposure figures it started with (for
    :meth:`LiveSessions.remember`); None when a concurrent start won."""
    cfg = settings.test_config()
    context = await conn.fetchrow(START_CONTEXT, principal.sub, cfg.r_max, cfg.exposure_warmup)
    last = context["last"]
    cooldown = timedelta(days=settings.retake_cooldown_days)
    if last is not None and now < last + cooldown:
        granted = await conn.fetchval(USE_GRANT, principal.sub, now)
        if granted is None:
            # a concurrent start may have used the grant and committed its session meanwhile
            if await conn.fetchval(ACTIVE_SESSION_ID, principal.sub):
                return None
            retry = last + cooldown
            raise Problem(
                409,
                "retake-cooldown",
                f"You completed a diagnostic on {last.isoformat()}; you may retake it from {retry.isoformat()}, "
                "or ask an administrator to grant an early retake.",
                retry_after=retry.isoformat(),
            )
    if context["id"] is None:
        raise Problem(
            503, "no-active-bank", "No item bank version is published yet; an administrator must publish one."
        )
    version = await cache.get(conn, context["id"])
    counts = np.zeros(len(version.bank), dtype=np.int64)
    if context["over"] and cfg.r_max < 1:
        counts[list(context["over"])] = 2**40
    first = step(version.bank, cfg, TestState(), counts, int(context["sessions_started"]) + 1, _rng)
    if first.done or first.item is None:
        raise Problem(
            503, "bank-unusable", "The active item bank has no item to give; publish a bank with active items."
        )
    sid = uuid7()
    config = config_json(cfg)
    inserted = await conn.fetchval(
        START_INSERT,
        sid,
        principal.sub,
        principal.name,
        principal.org,
        version.id,
        config,
        first.item,
        first.pretest,
        first.theta,
        first.se,
        now,
    )
    if inserted is None:
        return None
    out = SessionOut(
        id=sid,
        status="active",
        answered=0,
        started_at=now,
        last_activity_at=now,
        expires_at=now + idle,
        current_item=served(version, first.item, 1),
    )
    # the figures as an answer's read would see them after this start (counted in START_INSERT)
    state = live_row(sid, principal.sub, version.id, config, TestState(), first, now)
    return out, (state, (int(context["sessions_started"]) + 1, list(context["over"])))


async def get(
    session: AsyncSession, cache: VersionCache, settings: Settings, principal: Any, sid: uuid.UUID
) -> SessionOut:
    idle = timedelta(minutes=settings.session_idle_minutes)
    conn = await driver(session)
    await expire_idle(conn, principal.sub, idle)
    row = await conn.fetchrow(OWN_SESSION, sid, principal.sub)
    if row is None:
        raise not_found("diagnostic session", sid)
    await session.commit()
    version = await cache.get(conn, row["version_id"])
    summary = await result_summary(conn, sid) if row["status"] == "completed" else None
    return session_out(row, version, idle, summary)


_encoder = msgspec.json.Encoder()

ANSWER_READ = (
    "SELECT s.id, s.official_id, s.version_id, s.status, s.config::text AS config, s.items, s.scored, s.responses, "
    "s.current_idx, s.current_pretest, s.last_activity_at, r.item_id AS prev_item, r.choice AS prev_choice, "
    "r.reply AS prev_reply, v.sessions_started, "
    "ARRAY(SELECT i.idx FROM version_item i WHERE i.version_id = s.version_id AND i.administered >= "
    "ceil((s.config->>'r_max')::float8 * greatest(v.sessions_started, (s.config->>'exposure_warmup')::int))::bigint"
    ") AS over "
    "FROM diagnostic_session s JOIN bank_version v ON v.id = s.version_id "
    "LEFT JOIN response r ON r.session_id = s.id AND r.position = $3 "
    "WHERE s.id = $1 AND s.official_id = $2"
)
ANSWER_LOCK = ANSWER_READ + " FOR UPDATE OF s"
INSERT_RESPONSE = (
    "INSERT INTO response (session_id, position, version_id, idx, item_id, choice, correct, scored, answered_at, "
    "reply) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
ANSWER_WRITE = (
    f"WITH answered AS ({INSERT_RESPONSE}), "  # noqa: S608 (constants only)
    "moved AS (UPDATE diagnostic_session SET items = $11, scored = $12, responses = $13, current_idx = $14, "
    "current_pretest = $15, theta = $16, se = $17, last_activity_at = $9 WHERE id = $1) "
    "UPDATE version_item SET administered = administered + 1 WHERE version_id = $3 AND idx = $14"
)
# The hot path's write without an explicit transaction, one statement: a compare-and-set applied
# only if the session is still active, at the position, on the item and with the last activity the
# step started from (a concurrent answer that got there first, or any other change, makes it a
# no-op, and the answer is decided again under the row lock). (session_id, position) is unique as
# well. ANSWER_WRITE_IF_CURRENT also returns the live exposure figures for the next answers, which
# costs the database a scan of the version's items: it is used when this process's figures are
# older than FIGURES_REFRESH, ANSWER_WRITE_ONLY otherwise.
_WRITE_CTES = (
    "WITH moved AS (UPDATE diagnostic_session SET items = array_append(items, $4::int), "
    "scored = array_append(scored, $8::bool), "
    "responses = array_append(responses, (CASE WHEN $7::bool THEN 1 ELSE 0 END)::smallint), current_idx = $11, "
    "current_pretest = $12, theta = $13, se = $14, last_activity_at = $9 "
    "WHERE id = $1 AND status = 'active' AND cardinality(items) = $2 - 1 AND current_idx = $4 "
    "AND last_activity_at = $15 RETURNING id), "
    "answered AS (INSERT INTO response (session_id, position, version_id, idx, item_id, choice, correct, scored, "
    "answered_at, reply) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM moved RETURNING id), "
    "counted AS (UPDATE version_item SET administered = administered + 1 "
    "WHERE version_id = $3 AND idx = $11 AND EXISTS (SELECT 1 FROM answered)) "
)
ANSWER_WRITE_ONLY = _WRITE_CTES + "SELECT count(*) AS written FROM answered"  # noqa: S608 (constants)
ANSWER_WRITE_IF_CURRENT = (
    _WRITE_CTES + "SELECT (SELECT count(*) FROM answered) AS written, v.sessions_started, "  # noqa: S608 (constants)
    "ARRAY(SELECT i.idx FROM version_item i WHERE i.version_id = $3 AND i.administered >= "
    "ceil($16::float8 * greatest(v.sessions_started, $17::int))::bigint) AS over "
    "FROM bank_version v WHERE v.id = $3"
)
FIGURES_REFRESH = 0.5  # seconds after which a write fetches the exposure figures again
FIGURES_MAX_AGE = 1.0  # seconds the exposure figures of a write serve the next answers


class LiveSessions:
    """This process's memory of the sessions it started or wrote last (their state as a row of
    ``ANSWER_READ``) and of the latest exposure figures per bank version and exposure rule, so an
    answer that follows one this process wrote needs no read. Nothing here is trusted on its own:
    the write is a compare-and-set on the remembered state, a write fetches the figures again
    when they are older than ``FIGURES_REFRESH``, and figures older than ``FIGURES_MAX_AGE`` are
    never used (the session is read). Least recently used sessions are forgotten."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.sessions: OrderedDict[uuid.UUID, dict[str, Any]] = OrderedDict()
        self.figures: dict[tuple[int, float, int], tuple[float, int, list[int]]] = {}

    def row(self, sid: uuid.UUID, official_id: str, position: int) -> dict[str, Any] | None:
        """The remembered session as the read would return it, when it is the caller's, the answer
        is for its next position and fresh exposure figures are known; else None (read it)."""
        known = self.sessions.get(sid)
        if known is None or known["official_id"] != official_id or len(known["items"]) != position - 1:
            return None
        cfg = config_from_json(known["config"])
        figures = self.figures.get((known["version_id"], cfg.r_max, cfg.exposure_warmup))
        if figures is None or time.monotonic() - figures[0] > FIGURES_MAX_AGE:
            return None
        return {**known, "sessions_started": figures[1], "over": figures[2], "prev_item": None}

    def stale(self, version_id: int, cfg: TestConfig) -> bool:
        """Whether the exposure figures for this version and rule are due for a refresh."""
        figures = self.figures.get((version_id, cfg.r_max, cfg.exposure_warmup))
        return figures is None or time.monotonic() - figures[0] > FIGURES_REFRESH

    def remember(self, row: dict[str, Any], figures: tuple[int, list[int]] | None) -> None:
        """Keep a session's state (see :func:`live_row`) and, when given, the exposure figures
        (sessions started, items over the ceiling)."""
        if figures is not None:
            cfg = config_from_json(row["config"])
            self.figures[(row["version_id"], cfg.r_max, cfg.exposure_warmup)] = (time.monotonic(), *figures)
        sid = row["id"]
        old = self.sessions.get(sid)
        if old is not None and len(old["items"]) > len(row["items"]):
            return  # a later answer's state is already here
        self.sessions[sid] = row
        self.sessions.move_to_end(sid)
        while len(self.sessions) > self.size:
            self.sessions.popitem(last=False)

    def forget(self, sid: uuid.UUID) -> None:
        self.sessions.pop(sid, None)


def live_row(
    sid: uuid.UUID,
    official_id: str,
    version_id: int,
    config: str,
    state: TestState,
    current: Step,
    now: datetime,
) -> dict[str, Any]:
    """An active session's state after a write, with ``ANSWER_READ``'s session columns."""
    return {
        "id": sid,
        "official_id": official_id,
        "version_id": version_id,
        "status": "active",
        "config": config,
        "items": state.items,
        "scored": state.scored,
        "responses": state.responses,
        "current_idx": current.item,
        "current_pretest": current.pretest,
        "last_activity_at": now,
    }


class _Decision:
    """What one answer comes to, before anything is committed."""

    __slots__ = ("body", "kind", "parts")

    def __init__(self, kind: str, body: bytes = b"", parts: tuple[Any, ...] = ()) -> None:
        self.kind, self.body, self.parts = kind, body, parts


STORED_ANSWER = "SELECT item_id, choice, reply FROM response WHERE session_id = $1 AND position = $2"


async def _late_replay(conn: Any, sid: uuid.UUID, data: AnswerIn) -> _Decision | None:
    """The same answer sent twice at once: the copy that waited for the row lock sees the session
    as the winner left it, but its read's snapshot predates the winner's response row. A fresh read
    (under the lock nothing changes any more) finds that row: the stored reply is the answer."""
    stored = await conn.fetchrow(STORED_ANSWER, sid, data.position)
    if stored is not None and stored["item_id"] == data.item_id and stored["choice"] == data.choice:
        return _Decision("replay", str(stored["reply"]).encode())
    return None


async def _decide(
    conn: Any,
    cache: VersionCache,
    settings: Settings,
    principal: Any,
    sid: uuid.UUID,
    data: AnswerIn,
    locked: bool = True,
    live: LiveSessions | None = None,
) -> _Decision:
    """Lock the session (or, unlocked, take it from ``live`` or read it), check the answer, run the
    engine and (unless the test ends) write the response and the new state. Raises a Problem for
    anything the client must fix."""
    row: Any = live.row(sid, principal.sub, data.position) if live is not None and not locked else None
    if row is None:
        # one round trip: lock the session row, any answer already recorded at this position, and
        # the live exposure figures (sessions started; items at or over the eligibility ceiling)
        row = await conn.fetchrow(ANSWER_LOCK if locked else ANSWER_READ, sid, principal.sub, data.position)
        if row is None:
            raise not_found("diagnostic session", sid)
    if row["prev_item"] is not None:
        if row["prev_item"] == data.item_id and row["prev_choice"] == data.choice:
            return _Decision("replay", str(row["prev_reply"]).encode())
        raise Problem(
            409,
            "answer-already-recorded",
            f"Position {data.position} was already answered with a different choice or item; "
            "answers cannot be changed.",
        )
    now = utcnow()
    idle = timedelta(minutes=settings.session_idle_minutes)
    if row["status"] == "active" and row["last_activity_at"] < now - idle:
        return _Decision("expire")
    late = (
        await _late_replay(conn, sid, data)
        if locked and (row["status"] != "active" or len(row["items"]) >= data.position)
        else None
    )
    if late is not None:
        return late
    if row["status"] != "active":
        raise Problem(
            409,
            "session-ended",
            f"This session is {row['status']}; no more answers are accepted.",
            session_status=row["status"],
        )
    version = await cache.get(conn, row["version_id"])
    position = len(row["items"]) + 1
    idx = row["current_idx"]
    if data.position != position or data.item_id != version.item_ids[idx]:
        raise Problem(
            409,
            "not-current-item",
            f"That is not the current item: answer position {position}, item {version.item_ids[idx]}.",
            current_position=position,
            current_item_id=str(version.item_ids[idx]),
        )
    n_options = len(version.options[idx])
    if data.choice >= n_options:
        raise Problem(
            400,
            "validation",
            f"choice must be an option index from 0 to {n_options - 1}.",
            title="Invalid request",
            errors=[{"field": "choice", "source": "body", "message": f"must be below {n_options}"}],
        )
    correct = data.choice == version.answers[idx]
    scored = not row["current_pretest"]
    state = TestState(
        items=[*row["items"], idx], scored=[*row["scored"], scored], responses=[*row["responses"], int(correct)]
    )
    cfg = config_from_json(row["config"])
    counts = np.zeros(len(version.bank), dtype=np.int64)
    if row["over"] and cfg.r_max < 1:
        counts[list(row["over"])] = 2**40
    sessions = int(row["sessions_started"])
    nxt = step(version.bank, cfg, state, counts, sessions, _rng)
    summary = None
    result_id = None
    if nxt.done:
        result_id = uuid7()
        summary = ResultSummary(
            result_id, int(nxt.level or 0), nxt.theta, nxt.se, [round(p, 6) for p in nxt.level_probs]
        )
    reply = AnswerOut(
        session_id=sid,
        position=position,
        status="completed" if nxt.done else "active",
        answered=position,
        next_item=None if nxt.done or nxt.item is None else served(version, nxt.item, position + 1),
        result=summary,
    )
    body = _encoder.encode(reply)
    response = (sid, position, version.id, idx, version.item_ids[idx], data.choice, correct, scored, now, body.decode())
    if nxt.done:
        return _Decision("complete", body, (row, version, state, nxt, result_id, now, response))
    if not locked:
        args = (*response, nxt.item, nxt.pretest, nxt.theta, nxt.se, row["last_activity_at"])
        if live is None or live.stale(version.id, cfg):
            written = await conn.fetchrow(ANSWER_WRITE_IF_CURRENT, *args, cfg.r_max, cfg.exposure_warmup)
            figures = (written["sessions_started"], written["over"])
        else:
            written, figures = await conn.fetchrow(ANSWER_WRITE_ONLY, *args), None
        if not written["written"]:
            if live is not None:
                live.forget(sid)
            return _Decision("raced", body)
        if live is not None:
            live.remember(live_row(sid, principal.sub, version.id, row["config"], state, nxt, now), figures)
        return _Decision("written", body)
    # one round trip: the response, the session's new state and the next item's exposure count
    # (the hot counter row last, so its lock is held only until the commit)
    await conn.execute(
        ANSWER_WRITE, *response, state.items, state.scored, state.responses, nxt.item, nxt.pretest, nxt.theta, nxt.se
    )
    return _Decision("written", body)


async def _expire(conn: Any, sid: uuid.UUID) -> Problem:
    await conn.execute(EXPIRE_SESSION, sid, utcnow())
    return Problem(409, "session-expired", "This session expired after inactivity; start a new diagnostic.")


async def answer_fast(
    pool: Any,
    cache: VersionCache,
    settings: Settings,
    principal: Any,
    sid: uuid.UUID,
    data: AnswerIn,
    wake: Any,
    live: LiveSessions | None = None,
) -> bytes:
    """The hot path on a bare asyncpg connection and no explicit transaction: the session as this
    process wrote it last (``live``), else read (with any stored answer at this position and the
    live exposure figures); the engine; then one compare-and-set statement that records the
    answer only if the session is still in that state. The answer that ends a test, an expired
    session, or a lost race go through :func:`answer` instead, with a row lock, so that the
    result, the closed session and the outbox message commit together."""
    async with pool.acquire(timeout=settings.db_acquire_timeout_seconds) as conn:
        decision = await _decide(conn, cache, settings, principal, sid, data, locked=False, live=live)
    if decision.kind in ("written", "replay"):
        return decision.body
    if live is not None:
        live.forget(sid)
    # expiry, the answer that completes the test, or a lost race: the locked path decides again
    return await answer(pool, cache, settings, principal, sid, data, wake)


async def answer(
    pool: Any,
    cache: VersionCache,
    settings: Settings,
    principal: Any,
    sid: uuid.UUID,
    data: AnswerIn,
    wake: Any,
) -> bytes:
    """Record one answer under the session's row lock, in one transaction on the bare pool;
    completes the test when the engine stops (result, closed session and outbox message)."""
    expired = None
    async with pool.acquire(timeout=settings.db_acquire_timeout_seconds) as conn, conn.transaction():
        decision = await _decide(conn, cache, settings, principal, sid, data)
        if decision.kind == "expire":
            expired = await _expire(conn, sid)
        elif decision.kind == "complete":
            row, version, state, final, result_id, now, response = decision.parts
            await conn.execute(INSERT_RESPONSE, *response)
            await complete(conn, row, version, state, final, result_id, now, principal)
    if expired is not None:
        raise expired  # after the commit: the session stays expired
    if decision.kind == "complete" and wake is not None:
        wake()
    return decision.body


async def complete(
    conn: Any,
    row: Any,
    version: LoadedVersion,
    state: TestState,
    final: Step,
    result_id: uuid.UUID,
    now: datetime,
    principal: Any,
) -> None:
    """Write the result, close the session and queue the message to progress (inside the caller's
    transaction)."""
    domains: dict[str, dict[str, int]] = {}
    items = []
    for position, (idx, scored, resp) in enumerate(zip(state.items, state.scored, state.responses, strict=True), 1):
        domain = version.domains[idx]
        if scored:
            summary = domains.setdefault(domain, {"items": 0, "correct": 0})
            summary["items"] += 1
            summary["correct"] += resp
        items.append(
            {
                "position": position,
                "item_id": str(version.item_ids[idx]),
                "code": version.codes[idx],
                "domain": domain,
                "scored": scored,
                "correct": bool(resp),
            }
        )
    level = int(final.level or 0)
    await conn.execute(
        INSERT_RESULT,
        result_id,
        row["id"],
        row["official_id"],
        version.id,
        level,
        final.theta,
        final.se,
        [round(p, 6) for p in final.level_probs],
        json.dumps(domains),
        json.dumps(items),
        final.n_scored,
        final.reason,
        now,
    )
    await conn.execute(
        CLOSE_SESSION,
        row["id"],
        state.items,
        state.scored,
        state.responses,
        final.theta,
        final.se,
        now,
    )
    body = {
        "official": {"id": principal.sub, "name": principal.name, "org": principal.org},
        "level": level,
        "ability": round(final.theta, 6),
        "standard_error": round(final.se, 6),
        "completed_at": now.isoformat().replace("+00:00", "Z"),
    }
    await enqueue_raw(conn, "progress", "PUT", f"/v1/placements/{result_id}", body)


GRANT_RETAKE = (
    "INSERT INTO retake_grant (id, official_id, granted_by, reason, granted_at) "
    "VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (official_id) WHERE used_at IS NULL DO NOTHING RETURNING id"
)
OPEN_GRANT = (
    "SELECT id, official_id, granted_by, reason, granted_at, used_at FROM retake_grant "
    "WHERE official_id = $1 AND used_at IS NULL"
)


async def grant_retake(session: AsyncSession, official_id: str, by: str, reason: str) -> tuple[Any, bool]:
    """One early retake for an official (idempotent while unused). Returns (grant row, created)."""
    conn = await driver(session)
    created = await conn.fetchval(GRANT_RETAKE, uuid7(), official_id, by, reason, utcnow())
    grant = await conn.fetchrow(OPEN_GRANT, official_id)
    await session.commit()
    return grant, created is not None
