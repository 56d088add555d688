# ruff: noqa: S608  (SQL is assembled from constant fragments only; every value is a bound parameter)
"""Cohort sessions, enrolments, seats and waitlists.

Seats are enforced by the database: an enrolment locks the session row (``SELECT ... FOR
UPDATE``), so concurrent enrolments into one session queue on that lock and are decided one at a
time in arrival order; ``enrolled_count`` has a check constraint (never above ``seats``) as a
second line, and one active enrolment per official per level is a partial unique index.
Withdrawing an enrolled official promotes the first waitlisted one in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

import msgspec

from services.common import idempotency
from services.common.auth import Principal
from services.common.db import uuid7
from services.common.errors import Problem, not_found
from services.common.pagination import Page, decode_cursor, encode_cursor
from services.progress.db import today
from services.progress.domain import enrolment as rules
from services.progress.schemas import EnrolIn, EnrolmentOut, SessionIn, SessionOut, SessionPatch, WithdrawOut
from services.progress.store.base import Conn, Db, many, one

T = TypeVar("T")

SESSION_COLUMNS = (
    "id, level, title, place, instructor_id, seats, enrolled_count AS enrolled, waitlisted_count AS waitlisted, "
    "greatest(seats - enrolled_count, 0) AS free_seats, waitlist_limit, enrolment_open, days, starts_on, ends_on"
)
ENROLMENT_COLUMNS = (
    "id, session_id, official_id, level, status, seq, created_at, promoted_at, withdrawn_at, override_reason"
)
# The waitlist position of a waitlisted enrolment (NULL for others), for one row aliased ``e``.
POSITION = (
    "CASE WHEN e.status = 'waitlisted' THEN (SELECT count(*) FROM enrolment w WHERE w.session_id = e.session_id "
    "AND w.status = 'waitlisted' AND w.seq <= e.seq) END AS waitlist_position"
)
ENROLMENT_OUT = ", ".join("e." + c.strip() for c in ENROLMENT_COLUMNS.split(",")) + ", " + POSITION

INSERT_SESSION = f"""
INSERT INTO cohort_session (id, level, title, place, instructor_id, seats, waitlist_limit, enrolment_open, days,
                            starts_on, ends_on, enrolled_count, waitlisted_count, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, now(), now())
RETURNING {SESSION_COLUMNS}
"""
LIST_SESSIONS = f"""
SELECT {SESSION_COLUMNS} FROM cohort_session
WHERE ($1::int IS NULL OR level = $1)
  AND ($2::date IS NULL OR starts_on > $2)
  AND ($3::text IS NULL OR instructor_id = $3)
  AND ($4::date IS NULL OR (starts_on, id) > ($4, $5::uuid))
ORDER BY starts_on, id
LIMIT $6
"""
SESSION = f"SELECT {SESSION_COLUMNS} FROM cohort_session WHERE id = $1"
SESSION_FOR_UPDATE = SESSION + " FOR UPDATE"
UPDATE_SESSION = f"""
UPDATE cohort_session SET title = coalesce($2, title), place = coalesce($3, place),
       instructor_id = coalesce($4, instructor_id), seats = coalesce($5, seats),
       waitlist_limit = coalesce($6, waitlist_limit), enrolment_open = coalesce($7, enrolment_open),
       updated_at = now()
WHERE id = $1
RETURNING {SESSION_COLUMNS}
"""
SEATS_FOR_UPDATE = """
SELECT level, seats, enrolled_count AS enrolled, waitlisted_count AS waitlisted, waitlist_limit, enrolment_open,
       starts_on
FROM cohort_session WHERE id = $1 FOR UPDATE
"""
CURRENT_LEVEL = "SELECT current_level FROM official WHERE id = $1"
ACTIVE = """
SELECT id, session_id, status FROM enrolment
WHERE official_id = $1 AND level = $2 AND status IN ('enrolled', 'waitlisted')
"""
INSERT_ENROLMENT = f"""
WITH e AS (
    INSERT INTO enrolment (id, session_id, official_id, level, status, override_reason, created_by, created_at,
                           updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now())
    RETURNING {ENROLMENT_COLUMNS}
), counted AS (
    UPDATE cohort_session
    SET enrolled_count = enrolled_count + (e.status = 'enrolled')::int,
        waitlisted_count = waitlisted_count + (e.status = 'waitlisted')::int, updated_at = now()
    FROM e WHERE cohort_session.id = e.session_id
)
SELECT {ENROLMENT_COLUMNS},
       CASE WHEN status = 'waitlisted' THEN (SELECT count(*) + 1 FROM enrolment w WHERE w.session_id = e.session_id
                                             AND w.status = 'waitlisted') END AS waitlist_position
FROM e
"""
ROSTER = f"""
SELECT {ENROLMENT_COLUMNS},
       CASE WHEN status = 'waitlisted'
            THEN count(*) FILTER (WHERE status = 'waitlisted') OVER (ORDER BY seq) END AS waitlist_position
FROM enrolment WHERE session_id = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY seq
"""
MINE = f"SELECT {ENROLMENT_OUT} FROM enrolment e WHERE e.official_id = $1 ORDER BY e.seq DESC"
ACTIVE_OF = (
    f"SELECT {ENROLMENT_OUT} FROM enrolment e WHERE e.official_id = $1 AND e.status <> 'withdrawn' ORDER BY e.seq"
)
ENROLMENT = f"SELECT {ENROLMENT_OUT} FROM enrolment e WHERE e.id = $1"
ENROLMENT_OWNER = "SELECT session_id, official_id FROM enrolment WHERE id = $1"
LOCK_SESSION = "SELECT 1 FROM cohort_session WHERE id = $1 FOR UPDATE"
ENROLMENT_STATUS = "SELECT status FROM enrolment WHERE id = $1 FOR UPDATE"
WITHDRAW = """
WITH e AS (
    UPDATE enrolment SET status = 'withdrawn', withdrawn_at = now(), updated_at = now() WHERE id = $1
    RETURNING session_id
)
UPDATE cohort_session s
SET enrolled_count = enrolled_count - ($2::text = 'enrolled')::int,
    waitlisted_count = waitlisted_count - ($2::text = 'waitlisted')::int, updated_at = now()
FROM e WHERE s.id = e.session_id
"""
PROMOTE = """
WITH s AS (SELECT seats - enrolled_count AS free FROM cohort_session WHERE id = $1),
head AS (
    SELECT id FROM enrolment WHERE session_id = $1 AND status = 'waitlisted'
    ORDER BY seq LIMIT (SELECT greatest(free, 0) FROM s) FOR UPDATE
)
UPDATE enrolment e SET status = 'enrolled', promoted_at = now(), updated_at = now()
FROM head WHERE e.id = head.id
RETURNING e.id
"""
COUNT_PROMOTED = """
UPDATE cohort_session SET enrolled_count = enrolled_count + $2, waitlisted_count = waitlisted_count - $2,
       updated_at = now()
WHERE id = $1
"""


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A created resource, or the first answer replayed for a retried ``Idempotency-Key``."""

    body: T
    status: int = 201
    replayed: bool = False


@dataclass(frozen=True)
class Key:
    """A caller's ``Idempotency-Key`` for one request: the route and a hash of what was asked."""

    principal: Principal
    key: str | None
    route: str
    digest: str

    async def replay(self, conn: Conn, kind: type[T]) -> Answer[T] | None:
        """The first answer to this key (the kernel's store-and-replay), if there is one."""
        first = await idempotency.replay(conn, self.principal, self.key, self.route, self.digest)
        return None if first is None else Answer(msgspec.convert(first.content, kind), first.status_code or 201, True)

    async def remember(self, conn: Conn, body: object) -> None:
        await idempotency.remember(conn, self.principal, self.key, self.route, self.digest, 201, body)


async def create(db: Db, principal: Principal, data: SessionIn, key: str | None) -> Answer[SessionOut]:
    """Schedule a session; a retry with the same ``Idempotency-Key`` answers the first result."""
    days = sorted(set(data.days))
    if len(days) != len(data.days):
        raise Problem(400, "duplicate-days", "Each session day may be listed once.")
    k = Key(principal, key, "POST /v1/sessions", idempotency.request_hash(data))
    async with db.transaction() as conn:
        replay = await k.replay(conn, SessionOut)
        if replay is not None:
            return replay
        row = await conn.fetchrow(
            INSERT_SESSION,
            uuid7(),
            data.level,
            data.title,
            data.place,
            data.instructor_id,
            data.seats,
            data.waitlist_limit,
            data.enrolment_open,
            days,
            days[0],
            days[-1],
        )
        out = one(row, SessionOut)
        await k.remember(conn, out)
    return Answer(out)


def _after(cursor: str | None) -> tuple[date | None, uuid.UUID | None]:
    key = decode_cursor(cursor)
    if key is None:
        return None, None
    try:
        return date.fromisoformat(key[0]), uuid.UUID(key[1])
    except (ValueError, TypeError, IndexError) as exc:
        raise Problem(400, "invalid-cursor", "The cursor is not one this service issued.") from exc


async def list_sessions(
    db: Db, *, level: int | None, upcoming: bool, instructor_id: str | None, limit: int, cursor: str | None
) -> Page[SessionOut]:
    """Sessions by start date (keyset pagination), with live seat and waitlist counts."""
    after_day, after_id = _after(cursor)
    async with db.read() as conn:
        rows = await conn.fetch(
            LIST_SESSIONS, level, today() if upcoming else None, instructor_id, after_day, after_id, limit + 1
        )
    items = many(rows[:limit], SessionOut)
    last = items[-1] if len(rows) > limit else None
    return Page(items=items, next_cursor=encode_cursor([last.starts_on.isoformat(), str(last.id)]) if last else None)


async def get(db: Db, session_id: uuid.UUID) -> SessionOut:
    async with db.read() as conn:
        row = await conn.fetchrow(SESSION, session_id)
    if row is None:
        raise not_found("session", session_id)
    return one(row, SessionOut)


async def update(db: Db, session_id: uuid.UUID, data: SessionPatch) -> SessionOut:
    """Change a session; more seats promote from the waitlist at once."""
    async with db.transaction() as conn:
        row = await conn.fetchrow(SESSION_FOR_UPDATE, session_id)
        if row is None:
            raise not_found("session", session_id)
        rules.seats_floor(row["enrolled"], data.seats)
        row = await conn.fetchrow(
            UPDATE_SESSION,
            session_id,
            data.title,
            data.place,
            data.instructor_id,
            data.seats,
            data.waitlist_limit,
            data.enrolment_open,
        )
        if data.seats is not None and await promote(conn, session_id):
            row = await conn.fetchrow(SESSION, session_id)
    return one(row, SessionOut)


async def promote(conn: Conn, session_id: uuid.UUID) -> list[uuid.UUID]:
    """Fill free seats from the head of the waitlist (the caller holds the session row lock)."""
    promoted = [r["id"] for r in await conn.fetch(PROMOTE, session_id)]
    if promoted:
        await conn.execute(COUNT_PROMOTED, session_id, len(promoted))
    return promoted


async def enrol(
    db: Db, principal: Principal, session_id: uuid.UUID, data: EnrolIn, key: str | None
) -> Answer[EnrolmentOut]:
    """Seat or waitlist, decided under the session's row lock."""
    request = rules.request_for(principal.sub, principal.has("admin"), data.official_id, data.override_reason)
    route = f"POST /v1/sessions/{session_id}/enrolments"
    digest = idempotency.request_hash([str(session_id), request.official_id, data.override_reason])
    k = Key(principal, key, route, digest)
    async with db.transaction() as conn:
        replay = await k.replay(conn, EnrolmentOut)
        if replay is not None:
            return replay
        seats = await conn.fetchrow(SEATS_FOR_UPDATE, session_id)
        if seats is None:
            raise not_found("session", session_id)
        session = rules.SessionSeats(**dict(seats))
        current = await conn.fetchval(CURRENT_LEVEL, request.official_id)
        active = await conn.fetchrow(ACTIVE, request.official_id, session.level)
        status = rules.decide(
            request, session, current, None if active is None else rules.Active(**dict(active)), today()
        )
        row = await conn.fetchrow(
            INSERT_ENROLMENT,
            uuid7(),
            session_id,
            request.official_id,
            session.level,
            status,
            request.override,
            principal.sub,
        )
        out = one(row, EnrolmentOut)
        await k.remember(conn, out)
    return Answer(out)


async def owned_session(conn: Conn, principal: Principal, session_id: uuid.UUID) -> Any:
    """The session, if the caller is an admin or teaches it (404 / 403 otherwise)."""
    row = await conn.fetchrow(SESSION, session_id)
    if row is None:
        raise not_found("session", session_id)
    if not principal.has("admin") and row["instructor_id"] != principal.sub:
        raise Problem(403, "not-your-session", "Instructors may only work with sessions they teach.")
    return row


async def roster(db: Db, principal: Principal, session_id: uuid.UUID, status: str | None) -> list[EnrolmentOut]:
    """Everyone enrolled or waitlisted, in arrival order, with waitlist positions."""
    async with db.read() as conn:
        await owned_session(conn, principal, session_id)
        return many(await conn.fetch(ROSTER, session_id, status), EnrolmentOut)


async def mine(db: Db, official_id: str) -> list[EnrolmentOut]:
    async with db.read() as conn:
        return many(await conn.fetch(MINE, official_id), EnrolmentOut)


async def active_of(conn: Conn, official_id: str) -> list[EnrolmentOut]:
    """An official's enrolments that are not withdrawn, in arrival order."""
    return many(await conn.fetch(ACTIVE_OF, official_id), EnrolmentOut)


async def _enrolment(conn: Conn, enrolment_id: uuid.UUID) -> EnrolmentOut:
    return one(await conn.fetchrow(ENROLMENT, enrolment_id), EnrolmentOut)


async def get_enrolment(db: Db, principal: Principal, enrolment_id: uuid.UUID) -> EnrolmentOut:
    """One enrolment: the learner's own, or anyone's for an admin (others' answer 404)."""
    async with db.read() as conn:
        row = await conn.fetchrow(ENROLMENT, enrolment_id)
    if row is None or (not principal.has("admin") and row["official_id"] != principal.sub):
        raise not_found("enrolment", enrolment_id)
    return one(row, EnrolmentOut)


async def withdraw(db: Db, principal: Principal, enrolment_id: uuid.UUID) -> WithdrawOut:
    """Withdraw; a freed seat goes to the head of the waitlist in the same transaction.
    Withdrawing twice answers the same withdrawn enrolment."""
    async with db.transaction() as conn:
        owner = await conn.fetchrow(ENROLMENT_OWNER, enrolment_id)
        if owner is None or (not principal.has("admin") and owner["official_id"] != principal.sub):
            raise not_found("enrolment", enrolment_id)
        await conn.execute(LOCK_SESSION, owner["session_id"])
        was = await conn.fetchval(ENROLMENT_STATUS, enrolment_id)
        if was == "withdrawn":
            return WithdrawOut(await _enrolment(conn, enrolment_id), None)
        await conn.execute(WITHDRAW, enrolment_id, was)
        promoted = await promote(conn, owner["session_id"]) if was == "enrolled" else []
        return WithdrawOut(
            await _enrolment(conn, enrolment_id), await _enrolment(conn, promoted[0]) if promoted else None
        )
