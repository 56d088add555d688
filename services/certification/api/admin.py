"""Admin: manual issue, revoke, suspend, reinstate, re-issue, and the audit log."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import store
from services.certification.api.common import certificate_out, issuer_of, parse_uuid, wake_webhooks
from services.certification.schemas import AuditOut, CertificateOut, ManualIssue, ReasonBody, ReissueBody
from services.common.auth import Principal, allow
from services.common.db import utcnow
from services.common.errors import Problem

ADMIN = [allow("admin")]


@post("/v1/admin/certificates", guards=ADMIN, tags=["admin"])
async def manual_issue(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, data: ManualIssue
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
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, cert_id: str, action: str, reason: str
) -> CertificateOut:
    row = await store.change_status(session, issuer_of(request), principal, parse_uuid(cert_id), action, reason)
    await session.commit()
    request.app.state.status_lists.invalidate(row.status_list)
    wake_webhooks(request)
    return certificate_out(row, issuer_of(request))


@post("/v1/admin/certificates/{cert_id:str}/revoke", guards=ADMIN, tags=["admin"], status_code=200)
async def revoke(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, cert_id: str, data: ReasonBody
) -> CertificateOut:
    """Revoke for good (sets the bit in the revocation status list)."""
    return await _transition(request, session, principal, cert_id, "revoke", data.reason)


@post("/v1/admin/certificates/{cert_id:str}/suspend", guards=ADMIN, tags=["admin"], status_code=200)
async def suspend(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, cert_id: str, data: ReasonBody
) -> CertificateOut:
    """Suspend temporarily (sets the bit in the suspension status list)."""
    return await _transition(request, session, principal, cert_id, "suspend", data.reason)


@post("/v1/admin/certificates/{cert_id:str}/reinstate", guards=ADMIN, tags=["admin"], status_code=200)
async def reinstate(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, cert_id: str, data: ReasonBody
) -> CertificateOut:
    """Lift a suspension."""
    return await _transition(request, session, principal, cert_id, "reinstate", data.reason)


@post("/v1/admin/certificates/{cert_id:str}/reissue", guards=ADMIN, tags=["admin"])
async def reissue(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, cert_id: str, data: ReissueBody
) -> Response[CertificateOut]:
    """A new certificate with a new serial that supersedes this one (e.g. a corrected name)."""
    old = await store.get(session, parse_uuid(cert_id))
    new = await store.reissue(
        session, issuer_of(request), principal, parse_uuid(cert_id), data.reason, data.name, data.org
    )
    await session.commit()
    if old is not None:
        request.app.state.status_lists.invalidate(old.status_list)
    wake_webhooks(request)
    return Response(
        certificate_out(new, issuer_of(request)), status_code=201, headers={"Location": f"/v1/certificates/{new.id}"}
    )


@get("/v1/admin/certificates/{cert_id:str}/audit", guards=ADMIN, tags=["admin"])
async def audit_log(session: AsyncSession, cert_id: str) -> list[AuditOut]:
    """Every state change of the certificate: actor, time, reason."""
    ident = parse_uuid(cert_id)
    if await store.get(session, ident) is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    rows = (
        await session.execute(
            select(store.AUDIT).where(store.AUDIT.c.certificate_id == ident).order_by(store.AUDIT.c.id)
        )
    ).all()
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


handlers = [manual_issue, revoke, suspend, reinstate, reissue, audit_log]
