"""Our credentials checked as an outside verifier would, with code and data we did not write: the
official Open Badges 3.0 and VC Data Model 2.0 JSON Schemas (``jsonschema``), the Open Badges 3.0
JWT proof rules checked with ``jwcrypto`` against keys found by dereferencing ``kid``, for RS256
and EdDSA, and the issuer id answering a schema-valid Profile."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from asyncio.subprocess import PIPE
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
# The official Open Badges 3.0 and VC 2.0 JSON Schemas are third-party files this repository does not
# carry: point LMS_TEST_SCHEMA_DIR at a folder holding them under the names below (1EdTech's
# achievementcredential.json and profile.json, W3C's verifiable-credential-schema.json).
SCHEMAS = Path(os.environ.get("LMS_TEST_SCHEMA_DIR") or Path(__file__).parent / "data" / "schemas")
SCHEMA_FILES = (
    "ob_v3p0_achievementcredential.schema.json",
    "vc_v2_verifiable-credential.schema.json",
    "ob_v3p0_profile.schema.json",
)
HAVE_SCHEMAS = all((SCHEMAS / name).is_file() for name in SCHEMA_FILES)
needs_schemas = pytest.mark.skipif(
    not HAVE_SCHEMAS, reason=f"official JSON Schemas not found in {SCHEMAS} (set LMS_TEST_SCHEMA_DIR)"
)
REGISTERED = {"iss", "jti", "sub", "nbf", "exp"}  # the JWT claims the proof format adds


def validator(name: str) -> jsonschema.protocols.Validator | None:
    if not HAVE_SCHEMAS:
        return None
    schema = json.loads((SCHEMAS / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


OB3 = validator("ob_v3p0_achievementcredential.schema.json")
VC2 = validator("vc_v2_verifiable-credential.schema.json")
PROFILE = validator("ob_v3p0_profile.schema.json")


def problems(v: jsonschema.protocols.Validator | None, document: Any) -> list[str]:
    assert v is not None
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
            if HAVE_SCHEMAS:  # the official schemas
                assert problems(OB3, credential) == []
                assert problems(VC2, credential) == []
            assert isinstance(credential["credentialStatus"], dict)  # one entry, as Open Badges 3.0 allows


@needs_schemas
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
    assert "https://www.w3.org/ns/credentials/v2" in profile["@context"]
    if HAVE_SCHEMAS:
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


# --- Data Integrity (eddsa-rdfc-2022), verified by Digital Bazaar's @digitalbazaar/vc on Node ----

DI = Path(__file__).parent / "di"


@pytest.fixture(scope="session")
def di_verifier() -> Path:
    """``npm ci`` the verifier's locked packages once (the npm registry is the only download)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the independent Data Integrity verifier")
    lock = DI / "package-lock.json"
    stamp = DI / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=DI, check=True, capture_output=True, timeout=600)
    return DI / "verify.mjs"


async def di_verify(script: Path, credential: dict[str, Any], base: str) -> dict[str, Any]:
    """Run the Node verifier without blocking the event loop: it fetches the verification method
    and the issuer's controller document from the service running in this process."""
    process = await asyncio.create_subprocess_exec("node", str(script), stdin=PIPE, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(
        process.communicate(json.dumps({"credential": credential, "base": base}).encode()), 120
    )
    assert process.returncode == 0, err.decode()
    return dict(json.loads(out))


async def test_data_integrity_proof_verifies_with_an_independent_implementation(
    database_url: str, keys: Keys, di_verifier: Path
) -> None:
    async with running(database_url, keys, signing_alg="RS256") as svc:  # the JWT is RS256; the proof is EdDSA
        cert = (await svc.issue("std-di", level=3, name="공무원 데이터·AI")).json()
        r = await svc.client.get(f"/v1/certificates/{cert['id']}/credential", headers=svc.h("hr"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vc")
        secured = r.json()
        again = await svc.client.get(f"/v1/certificates/{cert['id']}/credential", headers=svc.h("hr"))
        assert again.content == r.content  # deterministic
        [proof] = secured["proof"]
        assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-rdfc-2022"
        assert proof["proofPurpose"] == "assertionMethod" and proof["proofValue"].startswith("z")
        # The same credential as the VC-JWT, and still valid against the official schemas.
        _, payload = parts(cert["credential"])
        assert {k: v for k, v in secured.items() if k != "proof"} == {
            k: v for k, v in payload.items() if k not in REGISTERED
        }
        if HAVE_SCHEMAS:
            assert problems(OB3, secured) == [] and problems(VC2, secured) == []
        result = await di_verify(di_verifier, secured, svc.base)
        assert result["verified"] is True and result["status"] == "active", result
        # Tampering is caught; a revoked credential's proof is intact but its status says revoked.
        forged = json.loads(json.dumps(secured))
        forged["credentialSubject"]["achievement"]["name"] = "Level 4: Data modelling"
        tampered = await di_verify(di_verifier, forged, svc.base)
        assert tampered["verified"] is False and tampered["proofVerified"] is False
        r = await svc.client.post(
            f"/v1/admin/certificates/{cert['id']}/revoke", json={"reason": "x"}, headers=svc.h("admin")
        )
        revoked = await di_verify(di_verifier, secured, svc.base)
        assert revoked["proofVerified"] is True and revoked["verified"] is False and revoked["status"] == "revoked"
        mine = await svc.client.get(
            f"/v1/me/certificates/{cert['id']}/credential", headers=svc.h("learner", sub="std-di")
        )
        assert mine.status_code == 200 and mine.content == r_content(again)
        other = await svc.client.get(f"/v1/me/certificates/{cert['id']}/credential", headers=svc.h("learner"))
        assert other.status_code == 404


def r_content(response: Any) -> bytes:
    return bytes(response.content)
