"""Issuing: the level-completed request from progress, and learners' own certificates."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Response as RawResponse

from services.certification.api.common import (
    Caller,
    Session,
    certificate_out,
    issuer_of,
    parse_level,
    parse_uuid,
    wake_webhooks,
)
from services.certification.api.printing import PDF, pdf_response
from services.certification.schemas import CertificateOut, LevelCompleted
from services.certification.store import certificates as store
from services.common.auth import allow, allow_peers
from services.common.errors import Problem


@put(
    "/v1/officials/{official_id:str}/levels/{level:str}/certificate",
    opt=allow_peers("progress"),
    tags=["issuing"],
    status_code=201,
    responses={200: ResponseSpec(CertificateOut, description="The certificate was issued before: the same one")},
)
async def level_completed(
    request: Request[Any, Any, Any],
    session: Session,
    principal: Caller,
    official_id: FromPath[str],
    level: FromPath[str],
    data: JSONBody[LevelCompleted],
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


@get("/v1/me/certificates", opt=allow("learner"), tags=["learner"])
async def my_certificates(request: Request[Any, Any, Any], session: Session, principal: Caller) -> list[CertificateOut]:
    """The caller's own certificates, newest first."""
    issuer = issuer_of(request)
    return [certificate_out(r, issuer, "/v1/me/certificates") for r in await store.mine(session, principal.sub)]


async def _own(session: Session, principal: Caller, cert_id: FromPath[str]) -> Any:
    row = await store.get(session, parse_uuid(cert_id))
    if row is None or row.official_id != principal.sub:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists, or you may not see it.")
    return row


@get("/v1/me/certificates/{cert_id:str}", opt=allow("learner"), tags=["learner"])
async def my_certificate(
    request: Request[Any, Any, Any], session: Session, principal: Caller, cert_id: FromPath[str]
) -> CertificateOut:
    """One of the caller's own certificates."""
    return certificate_out(await _own(session, principal, cert_id), issuer_of(request), "/v1/me/certificates")


@get("/v1/me/certificates/{cert_id:str}/pdf", opt=allow("learner"), tags=["learner"], media_type=PDF)
async def my_certificate_pdf(
    request: Request[Any, Any, Any], session: Session, principal: Caller, cert_id: FromPath[str]
) -> RawResponse[bytes]:
    """The printable certificate of one of the caller's own certificates (PDF)."""
    return await pdf_response(request, await _own(session, principal, cert_id))


@get("/v1/certificates/{cert_id:str}", opt=allow("hr", "admin"), tags=["hr"])
async def certificate(request: Request[Any, Any, Any], session: Session, cert_id: FromPath[str]) -> CertificateOut:
    """One certificate record (the link in webhook payloads and feed items)."""
    row = await store.get(session, parse_uuid(cert_id))
    if row is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    return certificate_out(row, issuer_of(request))


@get("/v1/certificates/{cert_id:str}/pdf", opt=allow("hr", "admin"), tags=["hr"], media_type=PDF)
async def certificate_pdf(
    request: Request[Any, Any, Any], session: Session, cert_id: FromPath[str]
) -> RawResponse[bytes]:
    """The printable certificate (PDF)."""
    row = await store.get(session, parse_uuid(cert_id))
    if row is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    return await pdf_response(request, row)


VC_MEDIA = "application/vc+ld+json"  # the VC 2.0 JSON-LD form (a +json type every client reads)


async def _credential_response(request: Request[Any, Any, Any], row: Any) -> RawResponse[bytes]:
    secured = await store.with_proof(issuer_of(request), row.vc_jwt)
    return RawResponse(
        msgspec.json.encode(secured),
        media_type=VC_MEDIA,
        headers={
            "Content-Disposition": f'attachment; filename="{row.serial}.jsonld"',
            "Cache-Control": "private, no-store",
        },
    )


@get("/v1/me/certificates/{cert_id:str}/credential", opt=allow("learner"), tags=["learner"], media_type=VC_MEDIA)
async def my_credential(
    request: Request[Any, Any, Any], session: Session, principal: Caller, cert_id: FromPath[str]
) -> RawResponse[bytes]:
    """The credential as JSON-LD with an embedded Data Integrity proof (eddsa-rdfc-2022)."""
    return await _credential_response(request, await _own(session, principal, cert_id))


@get("/v1/certificates/{cert_id:str}/credential", opt=allow("hr", "admin"), tags=["hr"], media_type=VC_MEDIA)
async def credential(request: Request[Any, Any, Any], session: Session, cert_id: FromPath[str]) -> RawResponse[bytes]:
    """The credential as JSON-LD with an embedded Data Integrity proof (eddsa-rdfc-2022)."""
    row = await store.get(session, parse_uuid(cert_id))
    if row is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    return await _credential_response(request, row)


handlers = [
    level_completed,
    my_certificates,
    my_certificate,
    my_certificate_pdf,
    my_credential,
    certificate,
    certificate_pdf,
    credential,
]
