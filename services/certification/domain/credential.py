"""Open Badges 3.0 credentials on the VC Data Model 2.0, secured as VC-JWT (VC-JOSE-COSE).

The JWT payload is the credential itself (no ``vc`` claim), plus the registered claims ``iss``
(= issuer.id), ``jti`` (= id), ``sub`` (= credentialSubject.id), ``nbf`` (= validFrom) and ``exp``
(= validUntil, when the certificate expires). Header: ``alg`` EdDSA, ``typ`` vc+jwt, ``cty`` vc, ``kid``.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
TYP = "vc+jwt"
ALG = "EdDSA"
# Fixed namespace for credentialSubject ids: urn:uuid:<uuid5(namespace, official_id)>.
SUBJECT_NAMESPACE = uuid.UUID("6f1c1c1e-3b0a-5d7c-9a55-0c1e5e2f7a10")


@dataclass(frozen=True)
class Level:
    en: str
    ko: str
    description_en: str
    description_ko: str


LEVELS: dict[int, Level] = {
    0: Level(
        "Introduction to data literacy",
        "데이터 리터러시 입문",
        "Completed the one-day introduction to data literacy.",
        "1일 데이터 리터러시 입문 과정을 이수함.",
    ),
    1: Level(
        "Writing policy proposals with data collection and analysis",
        "데이터 수집·분석 기반 정책 제안서 작성",
        "Completed the two-day course on writing policy proposals with data collection and analysis.",
        "2일 데이터 수집·분석 기반 정책 제안서 작성 과정을 이수함.",
    ),
    2: Level(
        "Data analysis practice",
        "데이터 분석 실습",
        "Completed the five-day data analysis practice course.",
        "5일 데이터 분석 실습 과정을 이수함.",
    ),
    3: Level(
        "Using data analysis tools",
        "데이터 분석 도구 활용",
        "Completed the two-week course on analysis and visualisation platforms.",
        "2주 데이터 분석·시각화 플랫폼 활용 과정을 이수함.",
    ),
    4: Level(
        "Data modelling",
        "데이터 모델링",
        "Completed the two-week data modelling course.",
        "2주 데이터 모델링 과정을 이수함.",
    ),
}


def subject_id(official_id: str) -> str:
    """A stable, opaque holder id per official (never an e-mail address)."""
    return f"urn:uuid:{uuid.uuid5(SUBJECT_NAMESPACE, official_id)}"


def achievement_id(issuer_url: str, level: int) -> str:
    return f"{issuer_url}/v1/achievements/level-{level}"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def achievement(issuer_url: str, level: int) -> dict[str, Any]:
    info = LEVELS[level]
    return {
        "id": achievement_id(issuer_url, level),
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": f"Level {level}: {info.en}",
        "description": info.description_en,
        "criteria": {"narrative": f"{info.description_en} / {info.description_ko}"},
        "inLanguage": "en",
    }


def issuer_profile(issuer_url: str, name: str, name_ko: str) -> dict[str, Any]:
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": issuer_url,
        "type": ["Profile"],
        "name": name,
        "description": name_ko,
        "url": issuer_url,
    }


def status_list_url(base_url: str, list_no: int, purpose: str) -> str:
    return f"{base_url}/v1/status-lists/{list_no}/{purpose}"


@dataclass(frozen=True)
class CertificateFacts:
    id: uuid.UUID
    serial: str
    official_id: str
    official_name: str
    level: int
    issued_at: datetime
    valid_until: datetime | None
    status_list: int
    status_index: int


def build_credential(facts: CertificateFacts, *, issuer_url: str, issuer_name: str, base_url: str) -> dict[str, Any]:
    """The unsecured OpenBadgeCredential."""
    info = LEVELS[facts.level]
    status = [
        {
            "id": f"{status_list_url(base_url, facts.status_list, purpose)}#{facts.status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(facts.status_index),
            "statusListCredential": status_list_url(base_url, facts.status_list, purpose),
        }
        for purpose in ("revocation", "suspension")
    ]
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{facts.id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"Level {facts.level} certificate: {info.en} / {info.ko}",
        "issuer": {"id": issuer_url, "type": ["Profile"], "name": issuer_name},
        "validFrom": iso(facts.issued_at),
        "credentialSubject": {
            "id": subject_id(facts.official_id),
            "type": ["AchievementSubject"],
            "identifier": [
                {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": facts.official_name}
            ],
            "achievement": achievement(issuer_url, facts.level),
        },
        "credentialStatus": status,
        "evidence": [{"id": f"{base_url}/verify/{facts.serial}", "type": ["Evidence"], "name": facts.serial}],
    }
    if facts.valid_until is not None:
        credential["validUntil"] = iso(facts.valid_until)
    return credential


def jwt_claims(credential: dict[str, Any]) -> dict[str, Any]:
    claims = dict(credential)
    claims["iss"] = credential["issuer"]["id"] if isinstance(credential["issuer"], dict) else credential["issuer"]
    claims["jti"] = credential["id"]
    if isinstance(credential.get("credentialSubject"), dict) and "id" in credential["credentialSubject"]:
        claims["sub"] = credential["credentialSubject"]["id"]
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    claims["nbf"] = int(valid_from.timestamp())
    claims["iat"] = int(valid_from.timestamp())
    if "validUntil" in credential:
        claims["exp"] = int(datetime.fromisoformat(credential["validUntil"].replace("Z", "+00:00")).timestamp())
    return claims


def sign(credential: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    return jwt.encode(jwt_claims(credential), key, algorithm=ALG, headers={"kid": kid, "typ": TYP, "cty": "vc"})


class CredentialError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _decode_json(segment: str) -> Any:
    return msgspec.json.decode(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def verify(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    issuer_url: str,
    check_expiry: bool = True,
    leeway: int = 60,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a compact-serialised VC-JWT (RFC 7515/7519): header (EdDSA, vc+jwt, a published kid),
    the Ed25519 signature over the exact ``header.payload`` bytes, the registered claims and their
    consistency with the credential. Returns the claims; raises :class:`CredentialError` with a
    stable code. Written directly on ``cryptography`` so the token is parsed once."""
    parts = token.split(".")
    if len(parts) != 3 or not _SEGMENT.fullmatch(parts[0]) or not _SEGMENT.fullmatch(parts[1]):
        raise CredentialError("malformed", "The credential is not a well-formed JWT.")
    try:
        header = _decode_json(parts[0])
    except (ValueError, msgspec.DecodeError) as exc:
        raise CredentialError("malformed", "The JWT header is not base64url-encoded JSON.") from exc
    if not isinstance(header, dict):
        raise CredentialError("malformed", "The JWT header is not a JSON object.")
    if header.get("alg") != ALG:
        raise CredentialError("bad-alg", f"Credentials must be signed with EdDSA, not {header.get('alg')!r}.")
    if not _SEGMENT.fullmatch(parts[2]):
        raise CredentialError("malformed", "The credential has no valid signature segment.")
    if header.get("typ") != TYP:
        raise CredentialError("bad-typ", f"The JWT typ must be {TYP!r}.")
    if "crit" in header:
        raise CredentialError("malformed", "Critical JWT header parameters are not supported.")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise CredentialError("unknown-kid", "The signing key (kid) is not in this issuer's published key set.")
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode())
    except (ValueError, InvalidSignature) as exc:
        raise CredentialError("bad-signature", "The signature does not match the credential.") from exc
    try:
        claims = _decode_json(parts[1])
    except (ValueError, msgspec.DecodeError) as exc:
        raise CredentialError("malformed", "The JWT payload is not base64url-encoded JSON.") from exc
    if not isinstance(claims, dict):
        raise CredentialError("malformed", "The JWT payload is not a JSON object.")
    missing = [c for c in ("iss", "jti", "nbf", "sub") if c not in claims]
    if missing:
        raise CredentialError("invalid", f"The credential lacks the claims {missing}.")
    if claims["iss"] != issuer_url:
        raise CredentialError("wrong-issuer", "The credential was not issued by this issuer.")
    moment = time.time() if now is None else now
    nbf, exp = claims["nbf"], claims.get("exp")
    if isinstance(nbf, bool) or not isinstance(nbf, int | float) or nbf > moment + leeway:
        raise CredentialError("not-yet-valid", "The credential is not valid yet.")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
        raise CredentialError("invalid", "The exp claim must be a number.")
    if check_expiry and exp is not None and exp < moment - leeway:
        raise CredentialError("expired", "The credential has expired.")
    subject = claims.get("credentialSubject")
    issuer = claims.get("issuer")
    if (
        "OpenBadgeCredential" not in (claims.get("type") or [])
        or claims.get("jti") != claims.get("id")
        or not isinstance(subject, dict)
        or claims.get("sub") != subject.get("id")
        or not isinstance(issuer, dict)
        or issuer.get("id") != claims.get("iss")
    ):
        raise CredentialError("inconsistent", "The JWT claims do not match the credential they secure.")
    return claims


def status_list_credential(
    *, url: str, purpose: str, encoded_list: str, issuer_url: str, valid_from: datetime
) -> dict[str, Any]:
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_url,
        "validFrom": iso(valid_from),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded_list,
        },
    }


def sign_status_list(credential: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    claims = dict(credential)
    claims["iss"] = credential["issuer"]
    claims["jti"] = credential["id"]
    claims["sub"] = credential["credentialSubject"]["id"]
    claims["nbf"] = claims["iat"] = int(
        datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00")).timestamp()
    )
    return jwt.encode(claims, key, algorithm=ALG, headers={"kid": kid, "typ": TYP, "cty": "vc"})


def peek_kid(token: str) -> str | None:
    """The header's kid without verifying anything (to refresh an unknown key set entry)."""
    head = token.split(".", 1)[0]
    if not _SEGMENT.fullmatch(head):
        return None
    try:
        header = _decode_json(head)
    except (ValueError, msgspec.DecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
