"""Issuing over real HTTP: the progress contract, idempotency under concurrency, the credential,
independent verification against the published key set, and key rotation."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import jwt
import pytest
from click.testing import CliRunner
from joserfc import jwt as rfcjwt
from joserfc.jwk import KeySet as RfcKeySet

from tests.certification.conftest import Service, running
from tests.support import Keys

SERVICE = "certification"


def payload(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


async def test_first_call_creates_then_repeats_return_the_same(svc: Service) -> None:
    first = await svc.issue("official-1", level=2)
    assert first.status_code == 201, first.text
    body = first.json()
    assert {"id", "serial", "official_id", "level", "status", "issued_at", "verify_url"} <= body.keys()
    assert body["official_id"] == "official-1" and body["level"] == 2 and body["status"] == "active"
    assert body["serial"].startswith("LMS-") and "-L2-" in body["serial"]
    assert body["verify_url"] == f"{svc.base}/verify/{body['serial']}"
    again = await svc.issue("official-1", level=2)
    assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["serial"] == body["serial"]
    other_level = await svc.issue("official-1", level=3)
    assert other_level.status_code == 201 and other_level.json()["serial"] != body["serial"]
    conn = await svc.db()
    try:
        assert await conn.fetchval("SELECT count(*) FROM certificate") == 2
        assert await conn.fetchval("SELECT count(*) FROM change") == 2
        assert await conn.fetchval("SELECT count(*) FROM audit WHERE action = 'issue'") == 2
    finally:
        await conn.close()


async def test_concurrent_identical_requests_create_exactly_one(svc: Service) -> None:
    responses = await asyncio.gather(*(svc.issue("official-c", level=1) for _ in range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 11 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({r.json()["id"] for r in responses}) == 1
    conn = await svc.db()
    try:
        assert await conn.fetchval("SELECT count(*) FROM certificate WHERE official_id = 'official-c'") == 1
        assert await conn.fetchval("SELECT count(*) FROM change") == 1
    finally:
        await conn.close()


async def test_bad_requests_are_clear_4xx_and_write_nothing(svc: Service) -> None:
    h = svc.h("service", sub="service:progress")
    good = {
        "official": {"id": "a", "name": "A", "org": "O"},
        "completed_at": "2026-05-01T06:00:00Z",
        "curriculum_version": "v1",
    }
    r = await svc.client.put("/v1/officials/b/levels/1/certificate", json=good, headers=h)
    assert r.status_code == 400 and r.json()["type"] == "urn:lms:problem:official-mismatch"
    for level in ("5", "-1", "abc"):
        r = await svc.client.put(f"/v1/officials/a/levels/{level}/certificate", json=good, headers=h)
        assert r.status_code in (400, 404) and r.headers["content-type"].startswith("application/problem+json")
    r = await svc.client.put("/v1/officials/a/levels/5/certificate", json=good, headers=h)
    assert r.status_code == 400 and "0 to 4" in r.json()["detail"]
    r = await svc.client.put(
        "/v1/officials/a/levels/1/certificate", json={**good, "completed_at": "2026-05-01T06:00:00"}, headers=h
    )
    assert r.status_code == 400 and "time zone" in r.json()["detail"]
    r = await svc.client.put("/v1/officials/a/levels/1/certificate", json={"official": {"id": "a"}}, headers=h)
    assert r.status_code == 400 and r.json()["errors"]
    r = await svc.client.put("/v1/officials/a/levels/1/certificate", json=good, headers=svc.h("learner", sub="a"))
    assert r.status_code == 403
    r = await svc.client.put("/v1/officials/a/levels/1/certificate", json=good)
    assert r.status_code == 401
    conn = await svc.db()
    try:
        assert await conn.fetchval("SELECT count(*) FROM certificate") == 0
        assert await conn.fetchval("SELECT count(*) FROM change") == 0
    finally:
        await conn.close()


async def test_credential_shape(svc: Service) -> None:
    body = (await svc.issue("official-shape", level=4, name="Lee Jiwoo")).json()
    claims = payload(body["credential"])
    assert claims["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert claims["@context"][:1] == ["https://www.w3.org/ns/credentials/v2"]
    assert claims["id"] == claims["jti"] == f"urn:uuid:{body['id']}"
    assert claims["iss"] == claims["issuer"]["id"] == f"{svc.base}/v1/issuer"  # a URL answering the Profile
    subject = claims["credentialSubject"]
    assert subject["id"] == claims["sub"] and subject["id"].startswith("urn:uuid:")
    assert "official-shape" not in subject["id"]
    assert subject["achievement"]["id"] == f"{svc.base}/v1/achievements/level-4"
    assert isinstance(claims["nbf"], int)
    # The achievement id is stable across officials and resolves.
    other = payload((await svc.issue("someone-else", level=4)).json()["credential"])
    assert other["credentialSubject"]["achievement"]["id"] == subject["achievement"]["id"]
    assert other["credentialSubject"]["id"] != subject["id"]
    r = await svc.client.get("/v1/achievements/level-4")
    assert r.status_code == 200 and r.json()["id"] == subject["achievement"]["id"]
    profile = (await svc.client.get("/v1/issuer")).json()
    assert profile["id"] == claims["iss"] and "Profile" in profile["type"]


async def _published_jwks(svc: Service) -> dict:
    r = await svc.client.get("/.well-known/jwks.json")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    jwks = r.json()
    assert all("d" not in k for k in jwks["keys"])
    return jwks


def verify_with_pyjwt(token: str, jwks: dict, issuer: str) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(
        token, key, algorithms=["EdDSA"], issuer=issuer, options={"require": ["iss", "jti", "nbf", "sub"]}
    )


def verify_with_joserfc(token: str, jwks: dict) -> dict:
    keyset = RfcKeySet.import_key_set(jwks)
    decoded = rfcjwt.decode(token, keyset, algorithms=["EdDSA"])
    assert decoded.header["typ"] == "JWT"  # the Open Badges 3.0 JWT proof format
    return dict(decoded.claims)


async def test_vc_jwt_verifies_with_two_libraries_from_the_published_jwks(svc: Service) -> None:
    body = (await svc.issue("official-v", level=0)).json()
    token = body["credential"]
    jwks = await _published_jwks(svc)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT" and header["kid"] in {k["kid"] for k in jwks["keys"]}
    a = verify_with_pyjwt(token, jwks, f"{svc.base}/v1/issuer")
    b = verify_with_joserfc(token, jwks)
    assert a == b and a["jti"] == f"urn:uuid:{body['id']}"
    r = await svc.client.post("/v1/verify", json={"credential": token})
    assert r.status_code == 200 and r.json()["valid"] is True and r.json()["serial"] == body["serial"]


async def test_tampered_unknown_kid_and_alg_none_fail_everywhere(svc: Service) -> None:
    token = (await svc.issue("official-t", level=1)).json()["credential"]
    jwks = await _published_jwks(svc)
    h, p, s = token.split(".")
    claims = payload(token)
    claims["credentialSubject"]["achievement"]["id"] = f"{svc.base}/v1/achievements/level-4"
    tampered = f"{h}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip('=')}.{s}"
    header = json.loads(base64.urlsafe_b64decode(h + "=="))
    unknown_kid = jwt.encode(
        payload(token), Keys_private(), algorithm="EdDSA", headers={"kid": "nobody", "typ": "vc+jwt"}
    )
    none_header = base64.urlsafe_b64encode(json.dumps({**header, "alg": "none"}).encode()).decode().rstrip("=")
    alg_none = f"{none_header}.{p}."
    for bad, code in ((tampered, "bad-signature"), (unknown_kid, "unknown-kid"), (alg_none, "bad-alg")):
        with pytest.raises((jwt.PyJWTError, KeyError)):
            verify_with_pyjwt(bad, jwks, f"{svc.base}/v1/issuer")
        with pytest.raises(Exception):  # noqa: B017 - joserfc raises several error types
            verify_with_joserfc(bad, jwks)
        r = await svc.client.post("/v1/verify", json={"credential": bad})
        assert r.status_code == 200 and r.json()["valid"] is False and r.json()["error"] == code, r.text
    r = await svc.client.post("/v1/verify", json={"nothing": 1})
    assert r.status_code == 400


def Keys_private():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


async def test_private_keys_are_encrypted_at_rest(svc: Service) -> None:
    conn = await svc.db()
    try:
        rows = await conn.fetch("SELECT kid, private_pkcs8 FROM signing_key")
    finally:
        await conn.close()
    assert len(rows) == 2  # one RS256 (RSA) and one EdDSA (Ed25519) key
    assert all(r["private_pkcs8"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----") for r in rows)


async def test_rotation_new_key_signs_old_certificates_keep_verifying(database_url: str, keys: Keys) -> None:
    async with running(database_url, keys, key_cache_seconds=0.0) as svc:
        old = (await svc.issue("official-r1", level=2)).json()
        old_kid = jwt.get_unverified_header(old["credential"])["kid"]
        from services.cli import main as lms  # `lms certification rotate-key`, as an operator runs it

        env = {"LMS_CERTIFICATION_DATABASE_URL": database_url}
        result = await asyncio.to_thread(CliRunner().invoke, lms, ["certification", "rotate-key"], env=env)
        assert result.exit_code == 0, result.output
        new_kid = f"{svc.base}/v1/keys/{result.output.strip().split()[-1]}"  # the kid is the key's URL
        assert new_kid != old_kid
        listed = await asyncio.to_thread(CliRunner().invoke, lms, ["certification", "list-keys"], env=env)
        assert listed.exit_code == 0 and old_kid.rsplit("/", 1)[1] in listed.output
        assert listed.output.strip().endswith(new_kid.rsplit("/", 1)[1])
        new = (await svc.issue("official-r2", level=2)).json()
        assert jwt.get_unverified_header(new["credential"])["kid"] == new_kid
        await asyncio.sleep(0)
        jwks = await _published_jwks(svc)
        for _ in range(60):  # the JWKS cache is at most a few seconds old
            if {old_kid, new_kid} <= {k["kid"] for k in jwks["keys"]}:
                break
            await asyncio.sleep(0.1)
            jwks = await _published_jwks(svc)
        assert {old_kid, new_kid} <= {k["kid"] for k in jwks["keys"]}
        for cert in (old, new):
            verify_with_pyjwt(cert["credential"], jwks, f"{svc.base}/v1/issuer")
            verify_with_joserfc(cert["credential"], jwks)
            r = await svc.client.post("/v1/verify", json={"credential": cert["credential"]})
            assert r.json()["valid"] is True, r.text
    assert os.environ.get("LMS_CERTIFICATION_DATABASE_URL") != database_url  # CliRunner env did not leak


async def test_key_is_created_once_when_replicas_start_together(database_url: str, keys: Keys) -> None:
    async with running(database_url, keys) as a, running(database_url, keys) as b:
        ja, jb = await _published_jwks(a), await _published_jwks(b)
        names = [{k["kid"].rsplit("/", 1)[1]: k["alg"] for k in j["keys"]} for j in (ja, jb)]
        assert names[0] == names[1] and sorted(names[0].values()) == ["EdDSA", "RS256"]
        ra = (await a.issue("official-x", level=0)).json()
        rb = await b.issue("official-x", level=0)
        assert rb.status_code == 200 and rb.json()["id"] == ra["id"]
