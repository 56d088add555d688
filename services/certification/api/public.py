"""Public: verification (JSON and web page), the key set, issuer profile, achievements, status lists."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar import MediaType, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from services.certification.api.common import LEVEL_DIGITS, issuer_of
from services.certification.domain import credential as vc
from services.certification.domain import integrity, page
from services.certification.domain.serial import parse_serial
from services.certification.domain.statuslist import PURPOSES
from services.certification.schemas import (
    AchievementOut,
    IssuerProfileOut,
    Jwk,
    JwkSet,
    LevelName,
    MultikeyOut,
    VerificationOut,
    VerifyRequest,
)
from services.certification.store import certificates as store
from services.common.db import utcnow
from services.common.errors import Problem

PUBLIC = {"public": True}


# Built once: the level names every verification answer carries.
_LEVEL_NAMES = {level: LevelName(en=info.en, ko=info.ko) for level, info in vc.LEVELS.items()}
# The hot public answer is encoded here once, by msgspec, and handed to Litestar as bytes (the same
# bytes Litestar's own encoder writes for these types).
_encode = msgspec.json.Encoder().encode


def _verification(request: Request[Any, Any, Any], row: Any) -> VerificationOut:
    status = vc.status_of(row.status, row.valid_until, utcnow())
    return VerificationOut(
        valid=status == "valid",
        status=status,
        serial=row.serial,
        certificate_id=row.id,
        holder_name=row.official_name,
        level=row.level,
        level_name=_LEVEL_NAMES[row.level],
        issued_at=row.issued_at,
        valid_until=row.valid_until,
        reason=row.status_reason if status in ("revoked", "suspended", "superseded") else None,
        superseded_by=row.successor,
        verify_url=issuer_of(request).verify_url(row.serial),
        kid=row.kid,
    )


@get(
    "/v1/verify/{serial:str}",
    opt=PUBLIC,
    tags=["verify"],
    cache_control=None,
    responses={200: ResponseSpec(VerificationOut, description="The verification")},
)
async def verify_serial(request: Request[Any, Any, Any], serial: FromPath[str]) -> Response[bytes]:
    """Status of a certificate by its serial: valid, revoked (with reason), suspended, expired or superseded."""
    if parse_serial(serial) is None:
        raise Problem(
            400,
            "invalid-serial",
            "This is not a certificate serial (expected PREFIX-YYYY-LN-NNNNNN-C with a matching check digit); "
            "check it for typing errors.",
        )
    row = await store.view(request.app.state.pool, serial=serial.strip().upper())
    if row is None:
        raise Problem(404, "not-found", f"No certificate has the serial {serial}.")
    return Response(_encode(_verification(request, row)), media_type=MediaType.JSON)


@post("/v1/verify", opt=PUBLIC, tags=["verify"], status_code=200)
async def verify_credential(request: Request[Any, Any, Any], data: JSONBody[VerifyRequest]) -> VerificationOut:
    """Verify a VC-JWT: header (RS256 or EdDSA, a published kid), signature, claims, and its current
    status. An invalid credential is a 200 answer with ``valid: false`` and an error code."""
    issuer = issuer_of(request)
    token = data.credential.strip()
    kid = vc.peek_kid(token)
    keys = await issuer.keyring.public_keys(want=vc.thumbprint_of(kid) if kid else None)
    try:
        claims = vc.verify(token, keys, issuer_url=issuer.issuer_ids, check_expiry=False)
    except vc.CredentialError as exc:
        return VerificationOut(valid=False, status="invalid", error=exc.code, error_detail=exc.message)
    try:
        cert_id = uuid.UUID(str(claims["jti"]).removeprefix("urn:uuid:"))
    except ValueError:
        cert_id = None
    row = await store.view(request.app.state.pool, cert_id=cert_id) if cert_id else None
    if row is None or row.vc_jwt != token:
        return VerificationOut(
            valid=False,
            status="invalid",
            error="unknown-credential",
            error_detail="The signature is ours but this credential is not on record.",
        )
    return _verification(request, row)


@get("/verify/{serial:str}", opt=PUBLIC, tags=["verify"], media_type=MediaType.HTML, include_in_schema=True)
async def verify_page(
    request: Request[Any, Any, Any], serial: FromPath[str], lang: FromQuery[str | None] = None
) -> Response[str]:
    """The verification web page (Korean or English: ?lang=ko|en, else Accept-Language)."""
    language = page.choose_language(lang, request.headers.get("accept-language"))
    issuer = issuer_of(request)
    name = issuer.settings.issuer_name_ko if language == "ko" else issuer.settings.issuer_name
    status_code = 200
    if parse_serial(serial) is None:
        facts = page.PageFacts(serial=serial[:64], status="invalid-serial")
        status_code = 400
    else:
        row = await store.view(request.app.state.pool, serial=serial.strip().upper())
        if row is None:
            facts = page.PageFacts(serial=serial, status="not-found")
            status_code = 404
        else:
            status = vc.status_of(row.status, row.valid_until, utcnow())
            facts = page.PageFacts(
                serial=row.serial,
                status=status,
                holder_name=row.official_name,
                level=row.level,
                issued_at=row.issued_at,
                valid_until=row.valid_until,
                reason=row.status_reason,
                superseded_by=row.successor,
                issuer_name=name,
            )
    return Response(
        page.render(facts, language),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Content-Language": language, "Vary": "Accept-Language", "Cache-Control": "no-cache"},
    )


JSON_LD = "application/ld+json"


@get("/.well-known/jwks.json", opt=PUBLIC, tags=["keys"])
async def jwks(request: Request[Any, Any, Any]) -> Response[JwkSet]:
    """Every credential-signing public key (RS256 and EdDSA), current and retired (old certificates keep verifying)."""
    keys = await issuer_of(request).keyring.jwks()
    body = JwkSet(keys=[msgspec.convert(k, Jwk) for k in keys])
    return Response(body, headers={"Cache-Control": "public, max-age=300"})


@get("/v1/keys/{thumbprint:str}", opt=PUBLIC, tags=["keys"])
async def key(request: Request[Any, Any, Any], thumbprint: FromPath[str]) -> Response[Jwk]:
    """One public signing key: what a credential's ``kid`` (this URL) dereferences to."""
    jwk = await issuer_of(request).keyring.jwk(thumbprint)
    if jwk is None:
        raise Problem(404, "not-found", f"There is no signing key {thumbprint[:64]}.")
    return Response(msgspec.convert(jwk, Jwk), headers={"Cache-Control": "public, max-age=300"})


@get("/v1/issuer", opt=PUBLIC, tags=["keys"], media_type=JSON_LD)
async def issuer_profile(request: Request[Any, Any, Any]) -> IssuerProfileOut:
    """The Open Badges issuer Profile (JSON-LD): what the issuer id of every credential answers."""
    issuer = issuer_of(request)
    s = issuer.settings
    methods = [vc.multikey_url(s.public_url, kid) for kid in await issuer.keyring.ed25519_keys()]
    profile = vc.issuer_profile(s.issuer_url, s.issuer_name, s.issuer_name_ko, s.public_url, methods)
    return msgspec.convert(profile, IssuerProfileOut)


@get("/v1/keys/{thumbprint:str}/multikey", opt=PUBLIC, tags=["keys"], media_type=JSON_LD)
async def multikey(request: Request[Any, Any, Any], thumbprint: FromPath[str]) -> MultikeyOut:
    """An Ed25519 key as a Multikey: what a Data Integrity proof's verificationMethod dereferences to."""
    issuer = issuer_of(request)
    key = (await issuer.keyring.ed25519_keys()).get(thumbprint)
    if not isinstance(key, Ed25519PublicKey):
        raise Problem(404, "not-found", f"There is no Ed25519 signing key {thumbprint[:64]}.")
    method = vc.multikey_url(issuer.base, thumbprint)
    return msgspec.convert(integrity.multikey(key, method, issuer.settings.issuer_url), MultikeyOut)


@get("/v1/achievements/{slug:str}", opt=PUBLIC, tags=["keys"], media_type=JSON_LD)
async def achievement(request: Request[Any, Any, Any], slug: FromPath[str]) -> AchievementOut:
    """The Achievement of a level (its id is stable: /v1/achievements/level-N)."""
    level = slug.removeprefix("level-")
    if not slug.startswith("level-") or level not in LEVEL_DIGITS:
        raise Problem(404, "not-found", "Achievements are /v1/achievements/level-0 to level-4.")
    body = {"@context": [vc.VC_CONTEXT, vc.OB_CONTEXT], **vc.achievement(issuer_of(request).base, int(level))}
    return msgspec.convert(body, AchievementOut)


@get("/v1/status-lists/{list_no:int}/{purpose:str}", opt=PUBLIC, tags=["keys"])
async def status_list(request: Request[Any, Any, Any], list_no: FromPath[int], purpose: FromPath[str]) -> Response[str]:
    """A Bitstring Status List credential (VC-JWT), with ETag and Cache-Control: ``message`` (what
    credentials carry: active, revoked, suspended, superseded), or the ``revocation`` and
    ``suspension`` lists of credentials issued before."""
    if purpose not in PURPOSES:
        raise Problem(404, "not-found", "Status lists are /v1/status-lists/{n}/message, /revocation or /suspension.")
    entry = await request.app.state.status_lists.get(list_no, purpose)
    if entry is None:
        raise Problem(404, "not-found", f"There is no status list {list_no}.")
    max_age = issuer_of(request).settings.status_list_max_age
    headers = {"ETag": entry.etag, "Cache-Control": f"public, max-age={max_age}"}
    inm = request.headers.get("if-none-match", "")
    if entry.etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
        return Response("", status_code=304, headers=headers, media_type="application/vc+jwt")
    return Response(entry.body, media_type="application/vc+jwt", headers=headers)


handlers = [
    verify_serial,
    verify_credential,
    verify_page,
    jwks,
    key,
    multikey,
    issuer_profile,
    achievement,
    status_list,
]
