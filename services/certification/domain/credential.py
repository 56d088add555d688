"""Open Badges 3.0 credentials on the VC Data Model 2.0, secured as VC-JWT (VC-JOSE-COSE).

The JWT payload is the credential itself (no ``vc`` claim), plus the registered claims ``iss``
(= issuer.id), ``jti`` (= id), ``sub`` (= credentialSubject.id), ``nbf`` (= validFrom) and ``exp``
(= validUntil, when the certificate expires). Header: ``alg`` EdDSA, ``typ`` vc+jwt, ``cty`` vc, ``kid``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
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


def verify(
    token: str, keys: Mapping[str, Ed25519PublicKey], *, issuer_url: str, check_expiry: bool = True
) -> dict[str, Any]:
    """Check header, signature, registered claims and their consistency with the credential.
    Returns the credential claims; raises :class:`CredentialError` with a stable code."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise CredentialError("malformed", "The credential is not a well-formed JWT.") from exc
    if header.get("alg") != ALG:
        raise CredentialError("bad-alg", f"Credentials must be signed with EdDSA, not {header.get('alg')!r}.")
    if header.get("typ") != TYP:
        raise CredentialError("bad-typ", f"The JWT typ must be {TYP!r}.")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise CredentialError("unknown-kid", "The signing key (kid) is not in this issuer's published key set.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALG],
            issuer=issuer_url,
            options={"require": ["iss", "jti", "nbf", "sub"], "verify_exp": check_expiry, "verify_aud": False},
            leeway=60,
        )
    except jwt.ExpiredSignatureError as exc:
        raise CredentialError("expired", "The credential has expired.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise CredentialError("not-yet-valid", "The credential is not valid yet.") from exc
    except jwt.InvalidIssuerError as exc:
        raise CredentialError("wrong-issuer", "The credential was not issued by this issuer.") from exc
    except jwt.InvalidSignatureError as exc:
        raise CredentialError("bad-signature", "The signature does not match the credential.") from exc
    except jwt.PyJWTError as exc:
        raise CredentialError("invalid", f"The credential is invalid: {exc}.") from exc
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
