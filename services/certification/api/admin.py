"""Admin: manual issue, revoke, suspend, reinstate, re-issue, and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.certification.api.common import (
    Caller,
    Session,
    certificate_out,
    issuer_of,
    parse_uuid,
    wake_webhooks,
)
from services.certification.schemas import AuditOut, CertificateOut, ManualIssue, ReasonBody, ReissueBody
from services.certification.store import certificates as store
from services.common.auth import allow
from services.common.db import utcnow
from services.common.errors import Problem
from services.common.pagination import Page, decode_cursor, page

ADMIN = allow("admin")
SearchText = Annotated[
    str,
    QueryParameter(
        min_length=1,
        max_length=200,
        description="An exact serial or official id, or part of the holder's name (case-insensitive).",
    ),
]


def _search_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        at, cert_id = key
        return datetime.fromisoformat(at), uuid.UUID(cert_id)
    except (TypeError, ValueError) as exc:
        raise Problem(400, "invalid-cursor", "The cursor is not one this service issued; start without it.") from exc


@get("/v1/admin/certificates", opt=ADMIN, tags=["admin"])
async def search_certificates(
    request: Request[Any, Any, Any],
    session: Session,
    q: FromQuery[SearchText],
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    cursor: FromQuery[str | None] = None,
) -> Page[CertificateOut]:
    """Find certificates by serial, official id or part of the holder's name, newest first."""
    rows = await store.search(session, q.strip(), limit + 1, _search_after(cursor))
    issuer = issuer_of(request)
    found = page(rows, limit, lambda r: [r.issued_at.isoformat(), str(r.id)])
    return Page(items=[certificate_out(r, issuer) for r in found.items], next_cursor=found.next_cursor)


@post("/v1/admin/certificates", opt=ADMIN, tags=["admin"], status_code=201)
async def manual_issue(
    request: Request[Any, Any, Any], session: Session, principal: Caller, data: JSONBody[ManualIssue]
) -> Response[CertificateOut]:
    """Issue a certificate by hand (with a reason). 409 if the official already holds one for the level."""
    if data.level not in range(5):
        raise Problem(
            400,
            "invalid-level",
            "level must be an integer from 0 to 4.",
            errors=[{"field": "level", "source": "body", "message": "expected 0-4"}],
        )
    completed = data.completed_at or utcnow()
    issuer = issuer_of(request)
    cert, created = await store.issue(
        session,
        issuer,
        principal,
        official_id=data.official.id,
        name=data.official.name or data.official.id,
        org=data.official.org,
        level=data.level,
        completed_at=completed,
        curriculum_version=data.curriculum_version,
        origin="admin",
        reason=data.reason,
    )
    if not created:
        raise Problem(
            409,
            "already-issued",
            f"{data.official.id} already holds certificate {cert.serial} for level {data.level}; re-issue it instead.",
            certificate_id=str(cert.id),
            serial=cert.serial,
        )
    await session.commit()
    wake_webhooks(request)
    return Response(certificate_out(cert, issuer), status_code=201, headers={"Location": f"/v1/certificates/{cert.id}"})


async def _transition(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    cert_id: FromPath[str],
    action: str,
    reason: str,
) -> CertificateOut:
    row = await store.change_status(session, issuer_of(request), principal, parse_uuid(cert_id), action, reason)
    await session.commit()
    request.app.state.status_lists.invalidate(row.status_list)
    wake_webhooks(request)
    return certificate_out(row, issuer_of(request))


@post("/v1/admin/certificates/{cert_id:str}/revoke", opt=ADMIN, tags=["admin"], status_code=200)
async def revoke(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    cert_id: FromPath[str],
    data: JSONBody[ReasonBody],
) -> CertificateOut:
    """Revoke for good (the status list marks it revoked)."""
    return await _transition(request, session, principal, cert_id, "revoke", data.reason)


@post("/v1/admin/certificates/{cert_id:str}/suspend", opt=ADMIN, tags=["admin"], status_code=200)
async def suspend(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    cert_id: FromPath[str],
    data: JSONBody[ReasonBody],
) -> CertificateOut:
    """Suspend temporarily (the status list marks it suspended)."""
    return await _transition(request, session, principal, cert_id, "suspend", data.reason)


@post("/v1/admin/certificates/{cert_id:str}/reinstate", opt=ADMIN, tags=["admin"], status_code=200)
async def reinstate(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    cert_id: FromPath[str],
    data: JSONBody[ReasonBody],
) -> CertificateOut:
    """Lift a suspension."""
    return await _transition(request, session, principal, cert_id, "reinstate", data.reason)


@post("/v1/admin/certificates/{cert_id:str}/reissue", opt=ADMIN, tags=["admin"], status_code=201)
async def reissue(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    cert_id: FromPath[str],
    data: JSONBody[ReissueBody],
) -> Response[CertificateOut]:
    """A new certificate with a new serial that supersedes this one (e.g. a corrected name)."""
    issuer = issuer_of(request)
    old, new = await store.reissue(session, issuer, principal, parse_uuid(cert_id), data.reason, data.name, data.org)
    await session.commit()
    request.app.state.status_lists.invalidate(old.status_list)
    wake_webhooks(request)
    return Response(certificate_out(new, issuer), status_code=201, headers={"Location": f"/v1/certificates/{new.id}"})


@get("/v1/admin/certificates/{cert_id:str}/audit", opt=ADMIN, tags=["admin"])
async def audit_log(session: Session, cert_id: FromPath[str]) -> list[AuditOut]:
    """Every state change of the certificate: actor, time, reason."""
    rows = await store.audit_log(session, parse_uuid(cert_id))
    if rows is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    return [
        AuditOut(
            id=r.id,
            certificate_id=r.certificate_id,
            action=r.action,
            actor=r.actor,
            actor_roles=r.actor_roles,
            reason=r.reason,
            at=r.at,
            details=r.details,
        )
        for r in rows
    ]


handlers = [search_certificates, manual_issue, revoke, suspend, reinstate, reissue, audit_log]
