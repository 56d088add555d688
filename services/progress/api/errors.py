"""Problem details for database errors raised through asyncpg (the kernel maps SQLAlchemy's;
this service runs its explicit SQL on asyncpg). The constraints are the last line of defence
behind the checks in the handlers, so a race that slips past a check still gets a clear 4xx."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from litestar import Request, Response

from services.common.errors import Problem, problem_response

log = structlog.get_logger()

CONSTRAINTS = {
    "ix_enrolment_one_active_per_level": (
        "already-enrolled",
        "The official already has an active enrolment at this level; withdraw it first.",
    ),
    "ck_cohort_session_not_overbooked": ("session-full", "Every seat is taken; choose another session."),
    "pk_placement_result": ("placement-conflict", "This placement result id was already received."),
    "pk_idempotency_record": ("idempotency-key-reused", "This Idempotency-Key is being used by another request."),
}


def _integrity(request: Request[Any, Any, Any], exc: asyncpg.IntegrityConstraintViolationError) -> Response[Any]:
    constraint = getattr(exc, "constraint_name", None)
    log.info("integrity_error", constraint=constraint, error=str(exc))
    slug, detail = CONSTRAINTS.get(constraint or "", ("conflict", "The request conflicts with existing data."))
    return problem_response(request, Problem(409, slug, detail, constraint=constraint))


def _data(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[Any]:
    return problem_response(request, Problem(400, "invalid-value", "A value is out of range or malformed."))


def _retry(request: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[Any]:
    log.warning("transaction_conflict", error=str(exc))
    return problem_response(
        request,
        Problem(
            503,
            "retry",
            "The request collided with a concurrent one and was rolled back entirely; send it again.",
            headers={"Retry-After": "1"},
        ),
    )


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("database_unavailable", error=str(exc)[:300])
    return problem_response(
        request,
        Problem(
            503,
            "database-unavailable",
            "The database is not reachable right now; retry shortly.",
            headers={"Retry-After": "2"},
        ),
    )


handlers: dict[Any, Any] = {
    asyncpg.IntegrityConstraintViolationError: _integrity,
    asyncpg.DataError: _data,
    asyncpg.DeadlockDetectedError: _retry,
    asyncpg.SerializationError: _retry,
    # the database restarting or gone: connection lost, shutting down, not accepting connections yet
    asyncpg.PostgresConnectionError: _unavailable,
    asyncpg.InterfaceError: _unavailable,
    asyncpg.exceptions.OperatorInterventionError: _unavailable,
    asyncpg.exceptions.InsufficientResourcesError: _unavailable,
}
