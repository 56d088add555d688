"""Our credentials checked as an outside verifier would, with code and data we did not write: the
official Open Badges 3.0 and VC Data Model 2.0 JSON Schemas (``jsonschema``), the Open Badges 3.0
JWT proof rules checked with ``jwcrypto`` against keys found by dereferencing ``kid``, for RS256
and EdDSA, and the issuer id answering a schema-valid Profile."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from jwcrypto import jwk, jws

from tests.certification.conftest import Service, running
from tests.support import Keys

SERVICE = "certification"
SCHEMAS = Path(__file__).parent / "data" / "schemas"
REGISTERED = {"iss", "jti", "sub", "nbf", "exp"}  # the JWT claims the proof format adds


def validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


OB3 = validator("ob_v3p0_achievementcredential.schema.json")
VC2 = validator("vc_v2_verifiable-credential.schema.json")
PROFILE = validator("ob_v3p0_profile.schema.json")


def problems(v: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(document)]


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(head), decode(body)


async def verify_as_outsider(svc: Service, token: str) -> dict[str, Any]:
    """Dereference the header's kid to a JWK, verify the JWS with jwcrypto, return the payload."""
    header, _ = parts(token)
    r = await svc.client.get(urlsplit(header["kid"]).path)
    assert r.status_code == 200, r.text
    key = jwk.JWK(**r.json())
    assert key.get("kid") == header["kid"] and not key.has_private
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(key, alg=header["alg"])
    return dict(json.loads(signed.payload))


async def credentials(svc: Service) -> list[str]:
    """One credential of every kind we issue: fresh, revoked, suspended, re-issued, manual."""
    tokens = []
    for i, name in enumerate(["김민수", "Lee Jiwoo", "공무원 데이터·AI"]):
        tokens.append((await svc.issue(f"std-{i}", level=i, name=name)).json())
    admin = svc.h("admin", sub="admin-std")
    for cert, action in zip(tokens[:2], ("revoke", "suspend"), strict=True):
        r = await svc.client.post(f"/v1/admin/certificates/{cert['id']}/{action}", json={"reason": "x"}, headers=admin)
        assert r.status_code == 200
    r = await svc.client.post(
        f"/v1/admin/certificates/{tokens[2]['id']}/reissue", json={"reason": "name", "name": "Park"}, headers=admin
    )
    tokens.append(r.json())
    manual = {"official": {"id": "std-m", "name": "Choi", "org": "X"}, "level": 4, "reason": "paper"}
    tokens.append((await svc.client.post("/v1/admin/certificates", json=manual, headers=admin)).json())
    return [t["credential"] for t in tokens]


@pytest.mark.parametrize("alg", ["EdDSA", "RS256"])
async def test_credentials_are_valid_against_the_official_schemas_and_jwt_rules(
    database_url: str, keys: Keys, alg: str
) -> None:
    async with running(database_url, keys, signing_alg=alg, validity_days=365) as svc:
        for token in await credentials(svc):
            header, payload = parts(token)
            # Open Badges 3.0, JWT proof format: the JOSE header.
            assert header["alg"] == alg and header["typ"] == "JWT" and "cty" not in header
            assert header["kid"].startswith(f"{svc.base}/v1/keys/")
            verified = await verify_as_outsider(svc, token)
            assert verified == payload
            # The payload is the credential plus the registered claims mapped from it.
            credential = {k: v for k, v in payload.items() if k not in REGISTERED}
            assert payload["iss"] == credential["issuer"]["id"] and payload["jti"] == credential["id"]
            assert payload["sub"] == credential["credentialSubject"]["id"] and "vc" not in payload
            assert payload["nbf"] == int(datetime.fromisoformat(credential["validFrom"]).timestamp())
            assert payload["exp"] == int(datetime.fromisoformat(credential["validUntil"]).timestamp())
            assert payload["exp"] > datetime.now(UTC).timestamp()
            # The official schemas.
            assert problems(OB3, credential) == []
            assert problems(VC2, credential) == []
            assert isinstance(credential["credentialStatus"], dict)  # one entry, as Open Badges 3.0 allows


async def test_a_schema_would_refuse_what_we_did_before(svc: Service) -> None:
    """The schemas are strict enough to catch the old two-entry status and a missing issuer."""
    _, payload = parts((await svc.issue("std-neg", level=1)).json()["credential"])
    credential = {k: v for k, v in payload.items() if k not in REGISTERED}
    two_entries = {**credential, "credentialStatus": [credential["credentialStatus"]] * 2}
    assert problems(OB3, two_entries)
    assert problems(OB3, {k: v for k, v in credential.items() if k != "issuer"})
    assert problems(VC2, {k: v for k, v in credential.items() if k != "@context"})


async def test_the_issuer_id_answers_a_valid_profile_as_json_ld(svc: Service) -> None:
    _, payload = parts((await svc.issue("std-p", level=0)).json()["credential"])
    issuer_id = payload["issuer"]["id"]
    r = await svc.client.get(urlsplit(issuer_id).path, headers={"Accept": "application/ld+json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    profile = r.json()
    assert profile["id"] == issuer_id and "Profile" in profile["type"]
    assert profile["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert problems(PROFILE, profile) == []
    achievement_id = payload["credentialSubject"]["achievement"]["id"]
    r = await svc.client.get(urlsplit(achievement_id).path)
    assert r.status_code == 200 and r.json()["id"] == achievement_id


async def test_both_algorithms_are_published_and_every_kid_resolves(svc: Service) -> None:
    keyset = (await svc.client.get("/.well-known/jwks.json")).json()
    assert sorted(k["alg"] for k in keyset["keys"]) == ["EdDSA", "RS256"]
    for published in keyset["keys"]:
        r = await svc.client.get(urlsplit(published["kid"]).path)
        assert r.status_code == 200 and r.json() == published
        key = jwk.JWK(**r.json())
        assert key.thumbprint() == published["kid"].rsplit("/", 1)[1]  # RFC 7638, computed by jwcrypto
    r = await svc.client.get("/v1/keys/not-a-key")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
