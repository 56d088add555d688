"""Issuing: the level-completed request from progress, and learners' own certificates."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, put
from litestar.response import Response as RawResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import store
from services.certification.api.common import (
    certificate_out,
    issuer_of,
    parse_level,
    parse_uuid,
    wake_webhooks,
)
from services.certification.api.printing import pdf_response
from services.certification.schemas import CertificateOut, LevelCompleted
from services.common.auth import Principal, allow, allow_peers
from services.common.errors import Problem


@put(
    "/v1/officials/{official_id:str}/levels/{level:str}/certificate",
    guards=[allow_peers("progress")],
    tags=["issuing"],
    status_code=200,
)
async def level_completed(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    official_id: str,
    level: str,
    data: LevelCompleted,
) -> Response[CertificateOut]:
    """Issue the certificate for a completed level: 201 the first time, 200 with the same
    certificate afterwards (idempotent per official and level)."""
    lvl = parse_level(level)
    if data.official.id != official_id:
        raise Problem(
            400,
            "official-mismatch",
            "The official id in the path and body.official.id must be the same.",
            errors=[{"field": "official.id", "source": "body", "message": "differs from the path"}],
        )
    issuer = issuer_of(request)
    cert, created = await store.issue(
        session,
        issuer,
        principal,
        official_id=official_id,
        name=data.official.name or official_id,
        org=data.official.org,
        level=lvl,
        completed_at=data.completed_at,
        curriculum_version=data.curriculum_version,
        origin="progress",
    )
    if created:
        await session.commit()
        wake_webhooks(request)
    return Response(
        certificate_out(cert, issuer),
        status_code=201 if created else 200,
        headers={"Location": f"/v1/certificates/{cert.id}"},
    )


@get("/v1/me/certificates", guards=[allow("learner")], tags=["learner"])
async def my_certificates(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal
) -> list[CertificateOut]:
    """The caller's own certificates, newest first."""
    rows = (
        await session.execute(
            select(store.CERT).where(store.CERT.c.official_id == principal.sub).order_by(store.CERT.c.issued_at.desc())
        )
    ).all()
    issuer = issuer_of(request)
    return [certificate_out(r, issuer, "/v1/me/certificates") for r in rows]


async def _own(session: AsyncSession, principal: Principal, cert_id: str) -> Any:
    row = await store.get(session, parse_uuid(cert_id))
    if row is None or row.official_id != principal.sub:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists, or you may not see it.")
    return row


@get("/v1/me/certificates/{cert_id:str}", guards=[allow("learner")], tags=["learner"])
async def my_certificate(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, cert_id: str
) -> CertificateOut:
    """One of the caller's certificates."""
    return certificate_out(await _own(session, principal, cert_id), issuer_of(request), "/v1/me/certificates")


@get("/v1/me/certificates/{cert_id:str}/pdf", guards=[allow("learner")], tags=["learner"], media_type="application/pdf")
async def my_certificate_pdf(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, cert_id: str
) -> RawResponse[bytes]:
    """One of the caller's certificates as a PDF."""
    return await pdf_response(request, await _own(session, principal, cert_id))


@get("/v1/certificates/{cert_id:str}", guards=[allow("hr", "admin")], tags=["hr"])
async def certificate(request: Request[Any, Any, Any], session: AsyncSession, cert_id: str) -> CertificateOut:
    """One certificate record (the link in webhook payloads and feed items)."""
    row = await store.get(session, parse_uuid(cert_id))
    if row is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    return certificate_out(row, issuer_of(request))


@get("/v1/certificates/{cert_id:str}/pdf", guards=[allow("hr", "admin")], tags=["hr"], media_type="application/pdf")
async def certificate_pdf(request: Request[Any, Any, Any], session: AsyncSession, cert_id: str) -> RawResponse[bytes]:
    """A certificate as a PDF (HR and admins)."""
    row = await store.get(session, parse_uuid(cert_id))
    if row is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    return await pdf_response(request, row)


handlers = [level_completed, my_certificates, my_certificate, my_certificate_pdf, certificate, certificate_pdf]
