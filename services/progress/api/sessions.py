"""Cohort sessions and enrolments (seats, waitlists, withdrawal)."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from services.common.auth import Principal, allow
from services.common.idempotency import IdempotencyKey
from services.common.pagination import Page
from services.progress.api.common import LOCATION, created
from services.progress.schemas import (
    EnrolIn,
    EnrolmentOut,
    EnrolmentStatus,
    SessionIn,
    SessionOut,
    SessionPatch,
    WithdrawOut,
)
from services.progress.store import sessions
from services.progress.store.base import Db


class SessionController(Controller):
    path = "/v1/sessions"
    tags = ["sessions"]

    @post("/", opt=allow("admin"), status_code=201, summary="Schedule a cohort session", response_headers=LOCATION)
    async def create(
        self,
        db: NamedDependency[Db],
        principal: NamedDependency[Principal],
        data: JSONBody[SessionIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SessionOut]:
        """Level, days, place, instructor, seats and waitlist limit."""
        answer = await sessions.create(db, principal, data, idempotency_key)
        return created(answer, f"/v1/sessions/{answer.body.id}")

    @get("/", opt=allow("learner", "instructor", "admin"), summary="List sessions")
    async def list_sessions(
        self,
        db: NamedDependency[Db],
        level: int | None = Parameter(default=None, ge=0, le=4),
        upcoming: bool = Parameter(default=False, description="Only sessions that have not started."),
        instructor_id: str | None = Parameter(default=None),
        limit: int = Parameter(default=50, ge=1, le=200),
        cursor: str | None = Parameter(default=None),
    ) -> Page[SessionOut]:
        """By start date (keyset pagination), with live seat and waitlist counts."""
        return await sessions.list_sessions(
            db, level=level, upcoming=upcoming, instructor_id=instructor_id, limit=limit, cursor=cursor
        )

    @get("/{session_id:uuid}", opt=allow("learner", "instructor", "admin"), summary="One session")
    async def get_one(self, db: NamedDependency[Db], session_id: FromPath[uuid.UUID]) -> SessionOut:
        return await sessions.get(db, session_id)

    @patch("/{session_id:uuid}", opt=allow("admin"), summary="Change a session")
    async def update(
        self, db: NamedDependency[Db], session_id: FromPath[uuid.UUID], data: JSONBody[SessionPatch]
    ) -> SessionOut:
        """Place, instructor, seats, waitlist limit, or open/close enrolment. Seats cannot drop
        below the officials already enrolled; more seats promote from the waitlist."""
        return await sessions.update(db, session_id, data)

    @post(
        "/{session_id:uuid}/enrolments",
        opt=allow("learner", "admin"),
        status_code=201,
        summary="Enrol in a session",
        response_headers=LOCATION,
    )
    async def enrol(
        self,
        db: NamedDependency[Db],
        principal: NamedDependency[Principal],
        session_id: FromPath[uuid.UUID],
        data: JSONBody[EnrolIn | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[EnrolmentOut]:
        """A seat if one is free, else the waitlist (in arrival order). Learners enrol themselves
        at their current level. An admin may enrol anyone (``official_id``) and, with an
        ``override_reason``, at another level or after the session's first day."""
        answer = await sessions.enrol(db, principal, session_id, data or EnrolIn(), idempotency_key)
        return created(answer, f"/v1/enrolments/{answer.body.id}")

    @get("/{session_id:uuid}/enrolments", opt=allow("instructor", "admin"), summary="A session's roster")
    async def roster(
        self,
        db: NamedDependency[Db],
        principal: NamedDependency[Principal],
        session_id: FromPath[uuid.UUID],
        status: EnrolmentStatus | None = Parameter(default=None),
    ) -> list[EnrolmentOut]:
        """Everyone enrolled or waitlisted, in order; instructors see only sessions they teach."""
        return await sessions.roster(db, principal, session_id, status)


class EnrolmentController(Controller):
    path = "/v1"
    tags = ["enrolments"]

    @get("/me/enrolments", opt=allow("learner"), summary="My enrolments")
    async def mine(self, db: NamedDependency[Db], principal: NamedDependency[Principal]) -> list[EnrolmentOut]:
        """The caller's enrolments, newest first."""
        return await sessions.mine(db, principal.sub)

    @get("/enrolments/{enrolment_id:uuid}", opt=allow("learner", "admin"), summary="One enrolment")
    async def get_one(
        self, db: NamedDependency[Db], principal: NamedDependency[Principal], enrolment_id: FromPath[uuid.UUID]
    ) -> EnrolmentOut:
        """A learner's own enrolment (others' answer 404), or anyone's for an admin."""
        return await sessions.get_enrolment(db, principal, enrolment_id)

    @post(
        "/enrolments/{enrolment_id:uuid}/withdraw",
        opt=allow("learner", "admin"),
        status_code=200,
        summary="Withdraw an enrolment",
    )
    async def withdraw(
        self, db: NamedDependency[Db], principal: NamedDependency[Principal], enrolment_id: FromPath[uuid.UUID]
    ) -> WithdrawOut:
        """A freed seat goes to the first waitlisted official in the same transaction.
        Withdrawing twice answers the same withdrawn enrolment."""
        return await sessions.withdraw(db, principal, enrolment_id)
