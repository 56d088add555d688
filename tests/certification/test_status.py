"""Revocation, suspension, re-issue and their audit trail; status lists; verification JSON and page."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from urllib.parse import urlsplit

import jwt

from tests.certification.conftest import Service, running
from tests.support import Keys

SERVICE = "certification"


def claims_of(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


async def _status_list(svc: Service, url: str, purpose: str) -> bytes:
    """Fetch a status list credential, verify its signature with the published key set and
    return the decoded bitstring, as an outside verifier would."""
    r = await svc.client.get(urlsplit(url).path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vc+jwt")
    assert r.headers["etag"] and "max-age" in r.headers["cache-control"]
    jwks = (await svc.client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(r.text)["kid"]]
    listed = jwt.decode(r.text, key, algorithms=["EdDSA", "RS256"], options={"verify_aud": False})
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = listed["credentialSubject"]
    assert subject["statusPurpose"] == purpose and subject["type"] == "BitstringStatusList"
    assert subject["encodedList"].startswith("u")
    return gzip.decompress(base64.urlsafe_b64decode(subject["encodedList"][1:] + "=="))


async def status_message(svc: Service, credential: str) -> str:
    """Follow the credential's one status entry (multi-state, statusSize bits per entry) and
    return its statusMessage for the value found in the list."""
    entry = claims_of(credential)["credentialStatus"]
    assert isinstance(entry, dict) and entry["statusPurpose"] == "message"
    size = entry["statusSize"]
    bits = await _status_list(svc, entry["statusListCredential"], "message")
    assert len(bits) * 8 >= 131_072 * size
    index = int(entry["statusListIndex"])
    value = 0
    for k in range(size):
        position = index * size + k
        value = value << 1 | bool(bits[position // 8] & (0x80 >> (position % 8)))
    return next(m["message"] for m in entry["statusMessage"] if int(m["status"], 16) == value)


async def legacy_bit(svc: Service, credential: str, purpose: str) -> bool:
    """The one-bit revocation/suspension lists that credentials issued before carry, still served."""
    entry = claims_of(credential)["credentialStatus"]
    url = entry["statusListCredential"].removesuffix("/message") + f"/{purpose}"
    bits = await _status_list(svc, url, purpose)
    index = int(entry["statusListIndex"])
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


async def act(svc: Service, cert_id: str, action: str, reason: str = "because") -> dict:
    r = await svc.client.post(
        f"/v1/admin/certificates/{cert_id}/{action}", json={"reason": reason}, headers=svc.h("admin", sub="admin-1")
    )
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def test_revoke_sets_the_bit_and_verify_says_revoked_with_reason(svc: Service) -> None:
    cert = (await svc.issue("official-rv", level=2)).json()
    bystander = (await svc.issue("official-ok", level=2)).json()
    assert await status_message(svc, cert["credential"]) == "active"
    revoked = await act(svc, cert["id"], "revoke", "Plagiarised final assessment")
    assert revoked["status"] == "revoked"
    assert await status_message(svc, cert["credential"]) == "revoked"
    assert await status_message(svc, bystander["credential"]) == "active"
    assert await legacy_bit(svc, cert["credential"], "revocation") is True
    assert await legacy_bit(svc, cert["credential"], "suspension") is False
    assert await legacy_bit(svc, bystander["credential"], "revocation") is False
    v = (await svc.client.get(f"/v1/verify/{cert['serial']}")).json()
    assert v["valid"] is False and v["status"] == "revoked" and v["reason"] == "Plagiarised final assessment"
    assert v["holder_name"] == "김민수" and v["level"] == 2
    posted = (await svc.client.post("/v1/verify", json={"credential": cert["credential"]})).json()
    assert posted["valid"] is False and posted["status"] == "revoked"
    ko = await svc.client.get(f"/verify/{cert['serial']}", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert ko.status_code == 200 and "취소됨" in ko.text and "Plagiarised final assessment" in ko.text
    assert "김민수" in ko.text and ko.headers["content-language"] == "ko"
    en = await svc.client.get(f"/verify/{cert['serial']}?lang=en")
    assert "Revoked" in en.text and "Data analysis practice" in en.text
    # Revocation is final.
    r = await svc.client.post(
        f"/v1/admin/certificates/{cert['id']}/reinstate", json={"reason": "x"}, headers=svc.h("admin")
    )
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:invalid-transition"


async def test_suspend_and_reinstate(svc: Service) -> None:
    cert = (await svc.issue("official-sp", level=1)).json()
    await act(svc, cert["id"], "suspend", "Under investigation")
    assert await status_message(svc, cert["credential"]) == "suspended"
    assert await legacy_bit(svc, cert["credential"], "suspension") is True
    v = (await svc.client.get(f"/v1/verify/{cert['serial']}")).json()
    assert v["status"] == "suspended" and v["reason"] == "Under investigation" and v["valid"] is False
    page = await svc.client.get(f"/verify/{cert['serial']}?lang=ko")
    assert "효력 정지됨" in page.text
    r = await svc.client.post(
        f"/v1/admin/certificates/{cert['id']}/suspend", json={"reason": "again"}, headers=svc.h("admin")
    )
    assert r.status_code == 409
    await act(svc, cert["id"], "reinstate", "Cleared")
    assert await status_message(svc, cert["credential"]) == "active"
    assert await legacy_bit(svc, cert["credential"], "suspension") is False
    v = (await svc.client.get(f"/v1/verify/{cert['serial']}")).json()
    assert v["status"] == "valid" and v["valid"] is True and v["reason"] is None
    assert "유효" in (await svc.client.get(f"/verify/{cert['serial']}")).text


async def test_reissue_supersedes_and_audit_records_everything(svc: Service) -> None:
    old = (await svc.issue("official-ri", level=3, name="Park Old")).json()
    await act(svc, old["id"], "suspend", "Name misspelt")
    r = await svc.client.post(
        f"/v1/admin/certificates/{old['id']}/reissue",
        json={"reason": "Corrected name", "name": "Park New"},
        headers=svc.h("admin", sub="admin-9"),
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["serial"] != old["serial"] and new["supersedes_id"] == old["id"] and new["official_name"] == "Park New"
    assert new["status"] == "active"
    v_old = (await svc.client.get(f"/v1/verify/{old['serial']}")).json()
    assert v_old["status"] == "superseded" and v_old["superseded_by"] == new["serial"] and not v_old["valid"]
    assert await status_message(svc, old["credential"]) == "superseded"
    assert await status_message(svc, new["credential"]) == "active"
    assert await legacy_bit(svc, old["credential"], "revocation") is True
    assert (await svc.client.get(f"/v1/verify/{new['serial']}")).json()["valid"] is True
    posted = (await svc.client.post("/v1/verify", json={"credential": old["credential"]})).json()
    assert posted["valid"] is False and posted["status"] == "superseded" and posted["superseded_by"] == new["serial"]
    # Progress asking again now gets the current certificate.
    again = await svc.issue("official-ri", level=3)
    assert again.status_code == 200 and again.json()["id"] == new["id"]
    r = await svc.client.post(
        f"/v1/admin/certificates/{old['id']}/reissue", json={"reason": "x"}, headers=svc.h("admin")
    )
    assert r.status_code == 409
    audit_old = (await svc.client.get(f"/v1/admin/certificates/{old['id']}/audit", headers=svc.h("admin"))).json()
    assert [a["action"] for a in audit_old] == ["issue", "suspend", "supersede"]
    assert audit_old[1]["actor"] == "admin-1" and audit_old[1]["reason"] == "Name misspelt"
    assert audit_old[2]["actor"] == "admin-9" and audit_old[2]["details"]["superseded_by"] == new["id"]
    assert audit_old[0]["actor"] == "service:progress" and audit_old[0]["at"]
    audit_new = (await svc.client.get(f"/v1/admin/certificates/{new['id']}/audit", headers=svc.h("admin"))).json()
    assert [a["action"] for a in audit_new] == ["reissue"] and audit_new[0]["reason"] == "Corrected name"
    r = await svc.client.get(f"/v1/admin/certificates/{old['id']}/audit", headers=svc.h("hr"))
    assert r.status_code == 403


async def test_admin_manual_issue_and_validation(svc: Service) -> None:
    h = svc.h("admin", sub="admin-2")
    body = {"official": {"id": "manual-1", "name": "Choi", "org": "BUSAN-02"}, "level": 0, "reason": "Paper records"}
    r = await svc.client.post("/v1/admin/certificates", json=body, headers=h)
    assert r.status_code == 201, r.text
    cert = r.json()
    r = await svc.client.post("/v1/admin/certificates", json=body, headers=h)
    assert r.status_code == 409 and r.json()["serial"] == cert["serial"]
    r = await svc.client.post("/v1/admin/certificates", json={**body, "level": 9}, headers=h)
    assert r.status_code == 400
    r = await svc.client.post("/v1/admin/certificates", json={**body, "reason": ""}, headers=h)
    assert r.status_code == 400
    r = await svc.client.post("/v1/admin/certificates", json=body, headers=svc.h("service"))
    assert r.status_code == 403
    for action in ("revoke", "suspend"):
        r = await svc.client.post(f"/v1/admin/certificates/{cert['id']}/{action}", json={}, headers=h)
        assert r.status_code == 400
    r = await svc.client.post("/v1/admin/certificates/not-a-uuid/revoke", json={"reason": "x"}, headers=h)
    assert r.status_code == 404
    audit = (await svc.client.get(f"/v1/admin/certificates/{cert['id']}/audit", headers=h)).json()
    assert audit[0]["action"] == "issue" and audit[0]["reason"] == "Paper records" and audit[0]["actor"] == "admin-2"


async def test_status_list_cache_etag_and_replicas(database_url: str, keys: Keys) -> None:
    # Replicas behind one public URL sign the same list version to the same bytes: the same ETag.
    shared = {"status_list_recheck_seconds": 0.3, "public_url": "https://certs.example.go.kr"}
    async with running(database_url, keys, **shared) as a, running(database_url, keys, **shared) as b:
        cert = (await a.issue("official-cache", level=2)).json()
        entry = claims_of(cert["credential"])["credentialStatus"]
        path = entry["statusListCredential"].removeprefix("https://certs.example.go.kr")
        first = await b.client.get(path)
        etag = first.headers["etag"]
        r = await b.client.get(path, headers={"If-None-Match": etag})
        assert r.status_code == 304 and r.content == b""
        hits = b.app.state.status_lists.hits
        assert (await b.client.get(path)).text == first.text  # served from cache
        assert b.app.state.status_lists.hits == hits + 1
        await a.client.get(path)  # replica a caches the list too
        await act(a, cert["id"], "revoke", "replica test")  # written through replica a
        ra = await a.client.get(path, headers={"If-None-Match": etag})
        assert ra.status_code == 200 and ra.headers["etag"] != etag  # the writing replica: at once
        await asyncio.sleep(0.35)  # the other replica: after its recheck interval
        r = await b.client.get(path, headers={"If-None-Match": etag})
        assert r.status_code == 200 and r.headers["etag"] == ra.headers["etag"] and r.text == ra.text
        assert await status_message(b, cert["credential"]) == "revoked"
        assert (await b.client.get("/v1/status-lists/99/revocation")).status_code == 404
        assert (await b.client.get("/v1/status-lists/1/other")).status_code == 404


async def test_verify_serial_errors_and_expired(database_url: str, keys: Keys) -> None:
    async with running(database_url, keys, validity_days=365) as svc:
        cert = (await svc.issue("official-exp", level=0)).json()
        assert claims_of(cert["credential"])["validUntil"]
        assert (await svc.client.get(f"/v1/verify/{cert['serial']}")).json()["status"] == "valid"
        conn = await svc.db()
        try:  # let the year pass
            await conn.execute("UPDATE certificate SET valid_until = now() - interval '1 day'")
        finally:
            await conn.close()
        v = (await svc.client.get(f"/v1/verify/{cert['serial']}")).json()
        assert v["status"] == "expired" and v["valid"] is False
        assert "Expired" in (await svc.client.get(f"/verify/{cert['serial']}?lang=en")).text
        serial = cert["serial"]
        typo = serial[:-1] + str((int(serial[-1]) + 1) % 10)
        r = await svc.client.get(f"/v1/verify/{typo}")
        assert r.status_code == 400 and r.json()["type"] == "urn:lms:problem:invalid-serial"
        assert (await svc.client.get(f"/verify/{typo}")).status_code == 400
        unknown = "LMS-2026-L0-999999-" + "0"
        from services.certification.domain.serial import make_serial

        unknown = make_serial("LMS", 2026, 0, 999_999)
        assert (await svc.client.get(f"/v1/verify/{unknown}")).status_code == 404
        page = await svc.client.get(f"/verify/{unknown}?lang=ko")
        assert page.status_code == 404 and "없습니다" in page.text
