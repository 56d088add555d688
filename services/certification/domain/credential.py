"""Open Badges 3.0 credentials on the VC Data Model 2.0, secured by the Open Badges 3.0 JSON Web
Token proof format.

The JWT payload is the credential itself (no ``vc`` claim), plus the registered claims ``iss``
(= issuer.id), ``jti`` (= id), ``sub`` (= credentialSubject.id), ``nbf`` (= validFrom) and ``exp``
(= validUntil, when the certificate expires). Header: ``alg`` (RS256 or EdDSA), ``typ`` JWT and a
``kid`` that is a URL answering the public JWK. Tokens signed before this format (``typ`` vc+jwt,
``cty`` vc, a bare thumbprint ``kid``) still verify.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import jwt
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.certification.domain.keys import ALGORITHMS, PrivateKey, PublicKey
from services.certification.domain.statuslist import MESSAGE, STATUS_MESSAGES, STATUS_SIZE

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
TYP = "JWT"
LEGACY_TYP = "vc+jwt"
KEY_PATH = "/v1/keys/"
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


Verdict = Literal["valid", "revoked", "suspended", "expired", "superseded"]


def status_of(status: str, valid_until: datetime | None, now: datetime) -> Verdict:
    """What a verifier is told: an active certificate past its validity is expired."""
    if status == "active":
        return "expired" if valid_until is not None and valid_until <= now else "valid"
    if status in ("revoked", "suspended", "superseded"):
        return status  # type: ignore[return-value]
    raise ValueError(f"unknown certificate status {status!r}")


def subject_id(official_id: str) -> str:
    """A stable, opaque holder id per official (never an e-mail address)."""
    return f"urn:uuid:{uuid.uuid5(SUBJECT_NAMESPACE, official_id)}"


def achievement_id(base_url: str, level: int) -> str:
    return f"{base_url}/v1/achievements/level-{level}"


def multikey_url(base_url: str, thumbprint: str) -> str:
    """The Data Integrity verification method of an Ed25519 key (a Multikey document)."""
    return f"{key_url(base_url, thumbprint)}/multikey"


REGISTERED_CLAIMS = ("iss", "jti", "sub", "nbf", "exp")


def credential_of(token: str) -> dict[str, Any]:
    """The credential inside one of our own stored VC-JWTs (its payload less the registered
    claims the JWT proof format added). Not a verification: use :func:`verify` for tokens from
    outside."""
    claims = _decode_json(token.split(".")[1])
    return {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}


def key_url(base_url: str, thumbprint: str) -> str:
    """The ``kid`` of a key: a URL on this service that answers its public JWK."""
    return f"{base_url}{KEY_PATH}{thumbprint}"


def thumbprint_of(kid: str) -> str:
    """The key name inside a ``kid`` (a key URL, or the bare thumbprint of older tokens)."""
    return kid.rsplit(KEY_PATH, 1)[-1] if KEY_PATH in kid else kid


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def achievement(base_url: str, level: int) -> dict[str, Any]:
    info = LEVELS[level]
    return {
        "id": achievement_id(base_url, level),
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": f"Level {level}: {info.en}",
        "description": info.description_en,
        "criteria": {"narrative": f"{info.description_en} / {info.description_ko}"},
        "inLanguage": "en",
    }


DID_CONTEXT = "https://www.w3.org/ns/did/v1"


def issuer_profile(
    issuer_url: str, name: str, name_ko: str, base_url: str, assertion_methods: list[str]
) -> dict[str, Any]:
    """The issuer Profile as JSON-LD: what the issuer id answers. It is also the controller
    document of the Data Integrity keys: ``assertionMethod`` lists them (a term of the DID
    context, which verifiers read without fetching anything)."""
    return {
        "@context": [DID_CONTEXT, VC_CONTEXT, OB_CONTEXT],
        "id": issuer_url,
        "type": ["Profile"],
        "name": name,
        "description": name_ko,
        "url": base_url,
        "assertionMethod": assertion_methods,
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
    list_url = status_list_url(base_url, facts.status_list, MESSAGE)
    # One entry (Open Badges 3.0 allows one): a 2-bit multi-state entry whose messages say active,
    # revoked, suspended or superseded.
    status = {
        "id": f"{list_url}#{facts.status_index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": MESSAGE,
        "statusListIndex": str(facts.status_index),
        "statusListCredential": list_url,
        "statusSize": STATUS_SIZE,
        "statusMessage": STATUS_MESSAGES,
    }
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
            "achievement": achievement(base_url, facts.level),
        },
        "credentialStatus": status,
        "evidence": [{"id": f"{base_url}/verify/{facts.serial}", "type": ["Evidence"], "name": facts.serial}],
    }
    if facts.valid_until is not None:
        credential["validUntil"] = iso(facts.valid_until)
    return credential


def _epoch(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def jwt_claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential's members plus the registered claims the JWT proof format maps them to."""
    claims = dict(credential)
    claims["iss"] = credential["issuer"]["id"] if isinstance(credential["issuer"], dict) else credential["issuer"]
    claims["jti"] = credential["id"]
    if isinstance(credential.get("credentialSubject"), dict) and "id" in credential["credentialSubject"]:
        claims["sub"] = credential["credentialSubject"]["id"]
    claims["nbf"] = _epoch(credential["validFrom"])
    if "validUntil" in credential:
        claims["exp"] = _epoch(credential["validUntil"])
    return claims


def algorithm_for(key: PrivateKey | PublicKey) -> str:
    return "RS256" if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) else "EdDSA"


def sign(credential: dict[str, Any], key: PrivateKey, kid: str) -> str:
    """Compact JWS: header ``alg`` (from the key), ``typ`` JWT, ``kid`` (the key's URL)."""
    return jwt.encode(jwt_claims(credential), key, algorithm=algorithm_for(key), headers={"kid": kid, "typ": TYP})


class CredentialError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _decode_json(segment: str) -> Any:
    return msgspec.json.decode(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _check_signature(key: PublicKey, alg: str, signature: bytes, signed: bytes) -> None:
    if algorithm_for(key) != alg:
        raise InvalidSignature
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        key.verify(signature, signed)


def verify(
    token: str,
    keys: Mapping[str, PublicKey],
    *,
    issuer_url: str | tuple[str, ...],
    check_expiry: bool = True,
    leeway: int = 60,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a compact-serialised VC-JWT (RFC 7515/7519): header (RS256 or EdDSA, typ JWT, a
    published kid), the signature over the exact ``header.payload`` bytes, the registered claims and
    their consistency with the credential. ``keys`` are named by thumbprint; ``issuer_url`` may list
    every issuer id this issuer has used. Returns the claims; raises :class:`CredentialError` with
    a stable code. Written directly on ``cryptography`` so the token is parsed once."""
    parts = token.split(".")
    if len(parts) != 3 or not _SEGMENT.fullmatch(parts[0]) or not _SEGMENT.fullmatch(parts[1]):
        raise CredentialError("malformed", "The credential is not a well-formed JWT.")
    try:
        header = _decode_json(parts[0])
    except (ValueError, msgspec.DecodeError) as exc:
        raise CredentialError("malformed", "The JWT header is not base64url-encoded JSON.") from exc
    if not isinstance(header, dict):
        raise CredentialError("malformed", "The JWT header is not a JSON object.")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise CredentialError("bad-alg", f"Credentials must be signed with RS256 or EdDSA, not {alg!r}.")
    if not _SEGMENT.fullmatch(parts[2]):
        raise CredentialError("malformed", "The credential has no valid signature segment.")
    if header.get("typ", TYP) not in (TYP, LEGACY_TYP):
        raise CredentialError("bad-typ", f"The JWT typ must be {TYP!r}.")
    if "crit" in header:
        raise CredentialError("malformed", "Critical JWT header parameters are not supported.")
    kid = header.get("kid")
    key = keys.get(thumbprint_of(kid)) if isinstance(kid, str) else None
    if key is None:
        raise CredentialError("unknown-kid", "The signing key (kid) is not in this issuer's published key set.")
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        _check_signature(key, alg, signature, f"{parts[0]}.{parts[1]}".encode())
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
    accepted = (issuer_url,) if isinstance(issuer_url, str) else issuer_url
    if claims["iss"] not in accepted:
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


def sign_status_list(credential: dict[str, Any], key: PrivateKey, kid: str) -> str:
    return sign(credential, key, kid)


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
