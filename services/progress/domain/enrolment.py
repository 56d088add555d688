"""Enrolment decisions: who may enrol whom, and seat, waitlist or refusal, decided from facts the
store loaded under the session's row lock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.common.errors import Problem

Placement = Literal["enrolled", "waitlisted"]


@dataclass(frozen=True)
class Request:
    """Who enrols whom: ``official_id`` is the official to enrol, ``override`` an admin's reason
    to bypass the level and start-date rules (None otherwise)."""

    official_id: str
    override: str | None


def request_for(sub: str, is_admin: bool, official_id: str | None, override_reason: str | None) -> Request:
    """Learners enrol themselves and cannot override; an admin may enrol anyone and override."""
    if not is_admin and official_id not in (None, sub):
        raise Problem(403, "forbidden", "Learners can only enrol themselves; leave official_id out.")
    if not is_admin and override_reason is not None:
        raise Problem(403, "forbidden", "Only an admin may override the enrolment rules.")
    return Request(official_id or sub, override_reason if is_admin else None)


@dataclass(frozen=True)
class SessionSeats:
    level: int
    seats: int
    enrolled: int
    waitlisted: int
    waitlist_limit: int | None
    enrolment_open: bool
    starts_on: date


@dataclass(frozen=True)
class Active:
    id: uuid.UUID
    session_id: uuid.UUID
    status: str


def decide(
    request: Request, session: SessionSeats, current_level: int | None, active: Active | None, today: date
) -> Placement:
    """A seat if one is free, else the waitlist if it has room; otherwise the reason why not.
    ``current_level`` is None for an official without a learning path."""
    override = request.override is not None
    if session.starts_on < today and not override:  # joining on the first day is still fine
        raise Problem(
            422, "session-started", f"The session started on {session.starts_on}; choose an upcoming session."
        )
    if current_level is None and not override:
        raise Problem(
            409, "no-learning-path", "This official has no learning path yet: take the placement diagnostic first."
        )
    if current_level is not None and current_level != session.level and not override:
        where = f"level {current_level}" if current_level <= 4 else "no level (the programme is complete)"
        raise Problem(
            409,
            "not-current-level",
            f"The session is at level {session.level} but the official's current level is {where}; "
            "enrol in a session at the current level.",
        )
    if active is not None:
        raise Problem(
            409,
            "already-enrolled",
            f"The official already has an active enrolment ({active.status}) at level {session.level}; "
            "withdraw it first.",
            enrolment_id=str(active.id),
            session_id=str(active.session_id),
        )
    if not session.enrolment_open:
        raise Problem(409, "enrolment-closed", "Enrolment for this session is closed.")
    if session.enrolled < session.seats:
        return "enrolled"
    if session.waitlist_limit is None or session.waitlisted < session.waitlist_limit:
        return "waitlisted"
    raise Problem(409, "session-full", "Every seat is taken and the waitlist is closed; choose another session.")


def seats_floor(enrolled: int, seats: int | None) -> None:
    """Seats cannot drop below the officials already enrolled."""
    if seats is not None and seats < enrolled:
        raise Problem(
            409,
            "seats-below-enrolled",
            f"{enrolled} officials are enrolled; seats cannot go below that. Withdraw enrolments first.",
        )
