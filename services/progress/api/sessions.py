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
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import JSONBody, Parameter

from services.common import idempotency
from services.common.auth import Principal, allow
from services.common.db import uuid7
from services.common.errors import Problem, not_found
from services.common.idempotency import IdempotencyKey
from services.common.pagination import Page, decode_cursor, encode_cursor
from services.progress.api.util import bounded_limit
from services.progress.db import connect, today
from services.progress.engine import Conn
from services.progress.schemas import EnrolIn, EnrolmentOut, SessionIn, SessionOut, SessionPatch, WithdrawOut

SESSION_COLUMNS = (
    "id, level, title, place, instructor_id, seats, enrolled_count, waitlisted_count, waitlist_limit, "
    "enrolment_open, days, starts_on, ends_on"
)
ENROLMENT_COLUMNS = (
    "id, session_id, official_id, level, status, seq, created_at, promoted_at, withdrawn_at, override_reason"
)


def session_out(r: Any) -> SessionOut:
    return SessionOut(
        id=r["id"],
        level=r["level"],
        title=r["title"],
        place=r["place"],
        instructor_id=r["instructor_id"],
        seats=r["seats"],
        enrolled=r["enrolled_count"],
        waitlisted=r["waitlisted_count"],
        free_seats=max(0, r["seats"] - r["enrolled_count"]),
        waitlist_limit=r["waitlist_limit"],
        enrolment_open=r["enrolment_open"],
        days=list(r["days"]),
        starts_on=r["starts_on"],
        ends_on=r["ends_on"],
    )


async def enrolment_out(conn: Conn, r: Any) -> EnrolmentOut:
    position = None
    if r["status"] == "waitlisted":
        position = await conn.fetchval(
            "SELECT count(*) FROM enrolment WHERE session_id = $1 AND status = 'waitlisted' AND seq <= $2",
            r["session_id"],
            r["seq"],
        )
    return enrolment_row_out(r, position)


class SessionController(Controller):
    path = "/v1/sessions"
    tags = ["sessions"]

    @post("/", guards=[allow("admin")], status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        data: JSONBody[SessionIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SessionOut]:
        """Schedule a cohort session (level, days, place, instructor, seats, waitlist limit)."""
        days = sorted(set(data.days))
        if len(days) != len(data.days):
            raise Problem(400, "duplicate-days", "Each session day may be listed once.")
        digest = idempotency.request_hash(data)
        async with connect(request.app) as conn:
            replay = await idempotency.replay(conn, principal, idempotency_key, "POST /v1/sessions", digest)
            if replay is not None:
                return replay
            row = await conn.fetchrow(
                f"INSERT INTO cohort_session (id, level, title, place, instructor_id, seats, waitlist_limit, "
                f"enrolment_open, days, starts_on, ends_on, enrolled_count, waitlisted_count, created_at, updated_at) "
                f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, now(), now()) "
                f"RETURNING {SESSION_COLUMNS}",
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
            out = session_out(row)
            await idempotency.remember(conn, principal, idempotency_key, "POST /v1/sessions", digest, 201, out)
        return Response(out, status_code=201)

    @get("/", guards=[allow("learner", "instructor", "admin")])
    async def list_sessions(
        self,
        request: Request[Any, Any, Any],
        level: int | None = Parameter(default=None, ge=0, le=4),
        upcoming: bool = Parameter(default=False, description="Only sessions that have not started."),
        instructor_id: str | None = Parameter(default=None),
        limit: int = Parameter(default=50),
        cursor: str | None = Parameter(default=None),
    ) -> Page[SessionOut]:
        """Sessions by start date (keyset pagination), with live seat and waitlist counts."""
        limit = bounded_limit(limit, 200)
        key = decode_cursor(cursor)
        where: list[str] = ["true"]
        args: list[Any] = []
        if level is not None:
            args.append(level)
            where.append(f"level = ${len(args)}")
        if upcoming:
            args.append(today())
            where.append(f"starts_on > ${len(args)}")
        if instructor_id is not None:
            args.append(instructor_id)
            where.append(f"instructor_id = ${len(args)}")
        if key is not None:
            try:
                args += [date.fromisoformat(key[0]), uuid.UUID(key[1])]
            except (ValueError, TypeError, IndexError) as exc:
                raise Problem(400, "invalid-cursor", "The cursor is not one this service issued.") from exc
            where.append(f"(starts_on, id) > (${len(args) - 1}, ${len(args)})")
        args.append(limit + 1)
        async with connect(request.app, transaction=False) as conn:
            rows = await conn.fetch(
                f"SELECT {SESSION_COLUMNS} FROM cohort_session WHERE {' AND '.join(where)} "
                f"ORDER BY starts_on, id LIMIT ${len(args)}",
                *args,
            )
        items = [session_out(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor([last.starts_on.isoformat(), str(last.id)])
        return Page(items=items, next_cursor=next_cursor)

    @get("/{session_id:uuid}", guards=[allow("learner", "instructor", "admin")])
    async def get_one(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> SessionOut:
        """One cohort session, with its seats and waitlist counts."""
        async with connect(request.app, transaction=False) as conn:
            row = await conn.fetchrow(f"SELECT {SESSION_COLUMNS} FROM cohort_session WHERE id = $1", session_id)
        if row is None:
            raise not_found("session", session_id)
        return session_out(row)

    @patch("/{session_id:uuid}", guards=[allow("admin")])
    async def update(
        self, request: Request[Any, Any, Any], session_id: uuid.UUID, data: JSONBody[SessionPatch]
    ) -> SessionOut:
        """Change a session's place, instructor, seats, waitlist limit, or open/close enrolment.
        Seats cannot drop below the officials already enrolled."""
        async with connect(request.app) as conn:
            row = await conn.fetchrow(
                f"SELECT {SESSION_COLUMNS} FROM cohort_session WHERE id = $1 FOR UPDATE", session_id
            )
            if row is None:
                raise not_found("session", session_id)
            if data.seats is not None and data.seats < row["enrolled_count"]:
                raise Problem(
                    409,
                    "seats-below-enrolled",
                    f"{row['enrolled_count']} officials are enrolled; seats cannot go below that. "
                    "Withdraw enrolments first.",
                )
            values = {
                "title": data.title,
                "place": data.place,
                "instructor_id": data.instructor_id,
                "seats": data.seats,
                "waitlist_limit": data.waitlist_limit,
                "enrolment_open": data.enrolment_open,
            }
            sets = {k: v for k, v in values.items() if v is not None}
            if sets:
                assignments = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(sets))
                row = await conn.fetchrow(
                    f"UPDATE cohort_session SET {assignments}, updated_at = now() WHERE id = $1 "
                    f"RETURNING {SESSION_COLUMNS}",
                    session_id,
                    *sets.values(),
                )
            if data.seats is not None:
                await promote(conn, session_id)
                row = await conn.fetchrow(f"SELECT {SESSION_COLUMNS} FROM cohort_session WHERE id = $1", session_id)
        return session_out(row)

    @post("/{session_id:uuid}/enrolments", guards=[allow("learner", "admin")], status_code=201)
    async def enrol(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        session_id: uuid.UUID,
        data: JSONBody[EnrolIn | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[EnrolmentOut]:
        """Enrol in a session: a seat if one is free, else the waitlist (in arrival order).

        Learners enrol themselves at their current level. An admin may enrol anyone
        (``official_id``) and, with an ``override_reason``, at another level or after the
        session's first day. Send an ``Idempotency-Key`` so a retry returns the first answer."""
        data = data or EnrolIn()
        is_admin = principal.has("admin")
        if not is_admin and data.official_id not in (None, principal.sub):
            raise Problem(403, "forbidden", "Learners can only enrol themselves; leave official_id out.")
        if not is_admin and data.override_reason is not None:
            raise Problem(403, "forbidden", "Only an admin may override the enrolment rules.")
        official_id = data.official_id or principal.sub
        override = is_admin and data.override_reason is not None
        route = f"POST /v1/sessions/{session_id}/enrolments"
        digest = idempotency.request_hash([str(session_id), official_id, data.override_reason])
        async with connect(request.app) as conn:
            replay = await idempotency.replay(conn, principal, idempotency_key, route, digest)
            if replay is not None:
                return replay
            session = await conn.fetchrow(
                "SELECT level, seats, enrolled_count, waitlisted_count, waitlist_limit, enrolment_open, starts_on "
                "FROM cohort_session WHERE id = $1 FOR UPDATE",
                session_id,
            )
            if session is None:
                raise not_found("session", session_id)
            if session["starts_on"] < today() and not override:  # joining on the first day is still fine
                raise Problem(
                    422,
                    "session-started",
                    f"The session started on {session['starts_on']}; choose an upcoming session.",
                )
            official = await conn.fetchrow("SELECT current_level FROM official WHERE id = $1", official_id)
            if official is None and not override:
                raise Problem(
                    409,
                    "no-learning-path",
                    "This official has no learning path yet: take the placement diagnostic first.",
                )
            if official is not None and official["current_level"] != session["level"] and not override:
                current = official["current_level"]
                where = f"level {current}" if current <= 4 else "no level (the programme is complete)"
                raise Problem(
                    409,
                    "not-current-level",
                    f"The session is at level {session['level']} but the official's current level is {where}; "
                    "enrol in a session at the current level.",
                )
            active = await conn.fetchrow(
                "SELECT id, session_id, status FROM enrolment WHERE official_id = $1 AND level = $2 "
                "AND status IN ('enrolled', 'waitlisted')",
                official_id,
                session["level"],
            )
            if active is not None:
                raise Problem(
                    409,
                    "already-enrolled",
                    f"The official already has an active enrolment ({active['status']}) at level "
                    f"{session['level']}; withdraw it first.",
                    enrolment_id=str(active["id"]),
                    session_id=str(active["session_id"]),
                )
            if not session["enrolment_open"]:
                raise Problem(409, "enrolment-closed", "Enrolment for this session is closed.")
            if session["enrolled_count"] < session["seats"]:
                status = "enrolled"
            elif session["waitlist_limit"] is None or session["waitlisted_count"] < session["waitlist_limit"]:
                status = "waitlisted"
            else:
                raise Problem(
                    409,
                    "session-full",
                    "Every seat is taken and the waitlist is closed; choose another session.",
                )
            row = await conn.fetchrow(
                f"INSERT INTO enrolment (id, session_id, official_id, level, status, override_reason, created_by, "
                f"created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now()) "
                f"RETURNING {ENROLMENT_COLUMNS}",
                uuid7(),
                session_id,
                official_id,
                session["level"],
                status,
                data.override_reason if override else None,
                principal.sub,
            )
            column = "enrolled_count" if status == "enrolled" else "waitlisted_count"
            await conn.execute(
                f"UPDATE cohort_session SET {column} = {column} + 1, updated_at = now() WHERE id = $1", session_id
            )
            out = await enrolment_out(conn, row)
            await idempotency.remember(conn, principal, idempotency_key, route, digest, 201, out)
        return Response(out, status_code=201)

    @get("/{session_id:uuid}/enrolments", guards=[allow("instructor", "admin")])
    async def roster(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        session_id: uuid.UUID,
        status: str | None = Parameter(default=None),
    ) -> list[EnrolmentOut]:
        """Everyone enrolled or waitlisted (in order); instructors see only sessions they teach."""
        async with connect(request.app, transaction=False) as conn:
            await owned_session(conn, principal, session_id)
            rows = await conn.fetch(
                f"SELECT {ENROLMENT_COLUMNS} FROM enrolment WHERE session_id = $1 "
                f"AND ($2::text IS NULL OR status = $2) ORDER BY seq",
                session_id,
                status,
            )
            position = 0
            out = []
            for r in rows:
                item = enrolment_row_out(r, None)
                if r["status"] == "waitlisted":
                    position += 1
                    item.waitlist_position = position
                out.append(item)
        return out


def enrolment_row_out(r: Any, position: int | None) -> EnrolmentOut:
    return EnrolmentOut(
        id=r["id"],
        session_id=r["session_id"],
        official_id=r["official_id"],
        level=r["level"],
        status=r["status"],
        seq=r["seq"],
        waitlist_position=position,
        created_at=r["created_at"],
        promoted_at=r["promoted_at"],
        withdrawn_at=r["withdrawn_at"],
        override_reason=r["override_reason"],
    )


async def owned_session(conn: Conn, principal: Principal, session_id: uuid.UUID) -> Any:
    row = await conn.fetchrow(f"SELECT {SESSION_COLUMNS} FROM cohort_session WHERE id = $1", session_id)
    if row is None:
        raise not_found("session", session_id)
    if not principal.has("admin") and row["instructor_id"] != principal.sub:
        raise Problem(403, "not-your-session", "Instructors may only work with sessions they teach.")
    return row


async def promote(conn: Conn, session_id: uuid.UUID) -> list[Any]:
    """Fill free seats from the head of the waitlist (caller holds the session row lock)."""
    promoted = await conn.fetch(
        f"""
        WITH s AS (SELECT seats - enrolled_count AS free FROM cohort_session WHERE id = $1),
        head AS (
            SELECT id FROM enrolment WHERE session_id = $1 AND status = 'waitlisted'
            ORDER BY seq LIMIT (SELECT greatest(free, 0) FROM s) FOR UPDATE
        )
        UPDATE enrolment e SET status = 'enrolled', promoted_at = now(), updated_at = now()
        FROM head WHERE e.id = head.id RETURNING {", ".join("e." + c.strip() for c in ENROLMENT_COLUMNS.split(","))}
        """,
        session_id,
    )
    if promoted:
        await conn.execute(
            "UPDATE cohort_session SET enrolled_count = enrolled_count + $2, waitlisted_count = waitlisted_count - $2, "
            "updated_at = now() WHERE id = $1",
            session_id,
            len(promoted),
        )
    return list(promoted)


class EnrolmentController(Controller):
    path = "/v1"
    tags = ["enrolments"]

    @get("/me/enrolments", guards=[allow("learner")])
    async def mine(self, request: Request[Any, Any, Any], principal: Principal) -> list[EnrolmentOut]:
        """The caller's enrolments, newest first."""
        async with connect(request.app, transaction=False) as conn:
            rows = await conn.fetch(
                f"SELECT {ENROLMENT_COLUMNS} FROM enrolment WHERE official_id = $1 ORDER BY seq DESC",
                principal.sub,
            )
            return [await enrolment_out(conn, r) for r in rows]

    @post("/enrolments/{enrolment_id:uuid}/withdraw", guards=[allow("learner", "admin")], status_code=200)
    async def withdraw(
        self, request: Request[Any, Any, Any], principal: Principal, enrolment_id: uuid.UUID
    ) -> WithdrawOut:
        """Withdraw an enrolment. A freed seat goes to the first waitlisted official in the same
        transaction. Withdrawing twice answers the same withdrawn enrolment."""
        async with connect(request.app) as conn:
            first = await conn.fetchrow("SELECT session_id, official_id FROM enrolment WHERE id = $1", enrolment_id)
            if first is None or (not principal.has("admin") and first["official_id"] != principal.sub):
                raise not_found("enrolment", enrolment_id)
            await conn.execute("SELECT 1 FROM cohort_session WHERE id = $1 FOR UPDATE", first["session_id"])
            row = await conn.fetchrow(
                f"SELECT {ENROLMENT_COLUMNS} FROM enrolment WHERE id = $1 FOR UPDATE", enrolment_id
            )
            if row["status"] == "withdrawn":
                return WithdrawOut(await enrolment_out(conn, row), None)
            was = row["status"]
            row = await conn.fetchrow(
                f"UPDATE enrolment SET status = 'withdrawn', withdrawn_at = now(), updated_at = now() "
                f"WHERE id = $1 RETURNING {ENROLMENT_COLUMNS}",
                enrolment_id,
            )
            column = "enrolled_count" if was == "enrolled" else "waitlisted_count"
            await conn.execute(
                f"UPDATE cohort_session SET {column} = {column} - 1, updated_at = now() WHERE id = $1",
                row["session_id"],
            )
            promoted = await promote(conn, row["session_id"]) if was == "enrolled" else []
            return WithdrawOut(
                await enrolment_out(conn, row),
                await enrolment_out(conn, promoted[0]) if promoted else None,
            )
