"""What to tell a client when one of this service's constraints refuses a write (the kernel maps
database errors to problems, SQLAlchemy's and raw asyncpg's alike). The constraints are the last
line of defence behind the checks in `store/` and `domain/`, so a race that slips past a check still gets a
clear 4xx."""

from __future__ import annotations

CONSTRAINTS = {
    "ix_enrolment_one_active_per_level": (
        "already-enrolled",
        "The official already has an active enrolment at this level; withdraw it first.",
    ),
    "ck_cohort_session_not_overbooked": ("session-full", "Every seat is taken; choose another session."),
    "pk_placement_result": ("placement-conflict", "This placement result id was already received."),
    "pk_idempotency_record": ("idempotency-key-reused", "This Idempotency-Key is being used by another request."),
}
