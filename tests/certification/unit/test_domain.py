"""Pure certification logic, without I/O: serials, status lists, signatures, credentials, PDF, page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.certification.domain import credential as vc
from services.certification.domain import keys, page, serial, statuslist, webhooks

# --- serials -------------------------------------------------------------------------------


def test_serial_format_and_roundtrip() -> None:
    s = serial.make_serial("SEOUL", 2026, 2, 42)
    assert s.startswith("SEOUL-2026-L2-000042-") and len(s.rsplit("-", 1)[1]) == 1
    assert serial.parse_serial(s) == ("SEOUL", 2026, 2, 42)
    assert serial.parse_serial(s.lower()) == ("SEOUL", 2026, 2, 42)
    assert serial.parse_serial("SEOUL-2026-L5-000042-1") is None  # level out of range
    assert serial.parse_serial("garbage") is None
    with pytest.raises(ValueError):
        serial.make_serial("X", 2026, 7, 1)


def _digits_positions(s: str) -> list[int]:
    return [i for i, ch in enumerate(s) if ch.isdigit()]


@pytest.mark.parametrize("number", [0, 1, 42, 90909, 123456, 999999])
def test_check_digit_detects_every_single_digit_error(number: int) -> None:
    for level in range(5):
        good = serial.make_serial("LMS", 2026, level, number)
        assert serial.is_valid_serial(good)
        for i in _digits_positions(good):
            for d in "0123456789":
                if d != good[i]:
                    bad = good[:i] + d + good[i + 1 :]
                    assert not serial.is_valid_serial(bad), (good, bad)


@pytest.mark.parametrize("number", [9, 90, 1234, 98765, 500005, 909090])
def test_check_digit_detects_every_adjacent_transposition(number: int) -> None:
    good = serial.make_serial("LMS", 2026, 3, number)
    digits = _digits_positions(good)
    for a, b in itertools.pairwise(digits):
        if b == a + 1 and good[a] != good[b]:
            bad = good[:a] + good[b] + good[a] + good[b + 1 :]
            assert not serial.is_valid_serial(bad), (good, bad)


# --- status list ---------------------------------------------------------------------------


def test_status_list_bits_and_encoding() -> None:
    encoded = statuslist.encode([0, 7, 8, 131_071])
    assert encoded.startswith("u")
    bits = statuslist.decode(encoded)
    assert len(bits) == statuslist.LIST_BITS // 8 == 16_384
    assert bits[0] == 0b1000_0001 and bits[1] == 0b1000_0000 and bits[-1] == 0b0000_0001
    assert [i for i in (0, 1, 6, 7, 8, 9, 131_071) if statuslist.is_set(bits, i)] == [0, 7, 8, 131_071]
    assert statuslist.encode([5, 3]) == statuslist.encode([3, 5])  # deterministic
    with pytest.raises(ValueError):
        statuslist.encode([statuslist.LIST_BITS])
    assert statuslist.list_for(1) == 1 and statuslist.list_for(statuslist.LIST_FILL) == 1
    assert statuslist.list_for(statuslist.LIST_FILL + 1) == 2


# --- webhook signatures --------------------------------------------------------------------


def test_webhook_signature_matches_an_independent_hmac() -> None:
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = b'{"type":"certificate.issued"}'
    now = int(time.time())
    h = webhooks.headers(secret, "msg_1", now, body)
    expected = base64.b64encode(
        hmac.new(base64.b64decode(secret[6:]), f"msg_1.{now}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    assert h["webhook-signature"] == f"v1,{expected}"
    assert webhooks.verify(secret, h, body)
    assert not webhooks.verify(secret, h, body + b" ")
    assert not webhooks.verify(webhooks.new_secret(), h, body)
    assert not webhooks.verify(secret, {**h, "webhook-id": "msg_2"}, body)
    assert not webhooks.verify(secret, h, body, now=now + 3600)  # replayed too late
    assert webhooks.verify(secret, {**h, "webhook-signature": "v1,AAAA " + h["webhook-signature"]}, body)


def test_backoff_grows_and_is_capped() -> None:
    assert 0.5 <= webhooks.backoff(1, 1.0, 100.0) <= 1.0
    assert 4.0 <= webhooks.backoff(4, 1.0, 100.0) <= 8.0
    assert webhooks.backoff(40, 1.0, 100.0) <= 100.0


# --- keys ----------------------------------------------------------------------------------


def test_private_key_encrypted_at_rest() -> None:
    kid, jwk, pem, key = keys.new_key("s3cret")
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "d" not in jwk and jwk["kid"] == kid == keys.thumbprint(jwk)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    assert base64.b64encode(raw).decode() not in pem
    assert keys.decrypt_private(pem, "s3cret").public_key() == key.public_key()
    with pytest.raises(ValueError):
        keys.decrypt_private(pem, "wrong")
    with pytest.raises(ValueError):
        keys.encrypt_private(key, "")


def test_sealed_secrets() -> None:
    from cryptography.exceptions import InvalidTag

    secret = webhooks.new_secret()
    sealed = keys.seal(secret, "pass-1")
    assert secret not in sealed and secret[6:] not in sealed and sealed != keys.seal(secret, "pass-1")
    assert keys.unseal(sealed, "pass-1") == secret
    with pytest.raises(InvalidTag):
        keys.unseal(sealed, "pass-2")


# --- credentials ---------------------------------------------------------------------------

ISSUER = "https://lms.example.go.kr"


def _facts(**kw: object) -> vc.CertificateFacts:
    base = dict(
        id=uuid.uuid4(),
        serial="LMS-2026-L2-000042-7",
        official_id="official-1",
        official_name="김민수",
        level=2,
        issued_at=datetime(2026, 5, 1, 6, 0, tzinfo=UTC),
        valid_until=None,
        status_list=1,
        status_index=4242,
    )
    base.update(kw)
    return vc.CertificateFacts(**base)  # type: ignore[arg-type]


def test_credential_shape() -> None:
    facts = _facts()
    cred = vc.build_credential(facts, issuer_url=ISSUER, issuer_name="Academy", base_url=ISSUER)
    assert cred["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    subject = cred["credentialSubject"]
    assert subject["id"] == vc.subject_id("official-1") and subject["id"].startswith("urn:uuid:")
    assert uuid.UUID(subject["id"][9:]).version == 5
    assert subject["id"] == vc.subject_id("official-1") != vc.subject_id("official-2")
    assert subject["achievement"]["id"] == f"{ISSUER}/v1/achievements/level-2"
    assert "@" not in json.dumps(subject)  # no e-mail address anywhere in the subject
    status = cred["credentialStatus"]  # one entry, as Open Badges 3.0 allows
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "message"
    assert status["statusListIndex"] == "4242" and status["statusSize"] == 2
    assert status["statusListCredential"] == f"{ISSUER}/v1/status-lists/1/message"
    assert [m["message"] for m in status["statusMessage"]] == ["active", "revoked", "suspended", "superseded"]
    assert [m["status"] for m in status["statusMessage"]] == ["0x0", "0x1", "0x2", "0x3"]
    assert "validUntil" not in cred
    expiring = vc.build_credential(
        _facts(valid_until=datetime(2029, 5, 1, tzinfo=UTC)), issuer_url=ISSUER, issuer_name="A", base_url=ISSUER
    )
    assert expiring["validUntil"] == "2029-05-01T00:00:00Z"


def test_sign_and_verify_and_every_way_to_fail() -> None:
    key = Ed25519PrivateKey.generate()
    jwk = keys.public_jwk(key.public_key())
    published = {jwk["kid"]: key.public_key()}
    cred = vc.build_credential(_facts(), issuer_url=ISSUER, issuer_name="Academy", base_url=ISSUER)
    kid_url = vc.key_url(ISSUER, jwk["kid"])
    token = vc.sign(cred, key, kid_url)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": f"{ISSUER}/v1/keys/{jwk['kid']}"}
    claims = vc.verify(token, published, issuer_url=ISSUER)
    assert claims["iss"] == ISSUER and claims["jti"] == cred["id"] and claims["sub"] == cred["credentialSubject"]["id"]
    assert claims["nbf"] == int(datetime(2026, 5, 1, 6, 0, tzinfo=UTC).timestamp())
    assert "vc" not in claims and "iat" not in claims

    def code(tok: str, keyset: dict = published, issuer: str = ISSUER) -> str:
        with pytest.raises(vc.CredentialError) as err:
            vc.verify(tok, keyset, issuer_url=issuer)
        return err.value.code

    h, p, s = token.split(".")
    forged = json.loads(keys.b64url_decode(p))
    forged["credentialSubject"]["achievement"]["id"] = f"{ISSUER}/v1/achievements/level-4"
    tampered = f"{h}.{keys.b64url(json.dumps(forged).encode())}.{s}"
    assert code(tampered) == "bad-signature"
    assert code(token, {}) == "unknown-kid"
    none_header = keys.b64url(json.dumps({"alg": "none", "typ": "vc+jwt", "kid": jwk["kid"]}).encode())
    assert code(f"{none_header}.{p}.") == "bad-alg"
    other = Ed25519PrivateKey.generate()
    assert code(vc.sign(cred, other, jwk["kid"])) == "bad-signature"  # right kid, wrong key
    assert code(token, issuer="https://elsewhere") == "wrong-issuer"
    assert code("not-a-jwt") == "malformed"
    wrong_typ = jwt.encode(vc.jwt_claims(cred), key, algorithm="EdDSA", headers={"kid": jwk["kid"], "typ": "at+jwt"})
    assert code(wrong_typ) == "bad-typ"
    legacy = jwt.encode(vc.jwt_claims(cred), key, algorithm="EdDSA", headers={"kid": jwk["kid"], "typ": "vc+jwt"})
    assert vc.verify(legacy, published, issuer_url=ISSUER)["jti"] == cred["id"]  # issued before: still valid
    inconsistent = vc.jwt_claims(cred) | {"sub": "urn:uuid:someone-else"}
    bad = jwt.encode(inconsistent, key, algorithm="EdDSA", headers={"kid": jwk["kid"], "typ": "vc+jwt"})
    assert code(bad) == "inconsistent"
    past = vc.build_credential(
        _facts(issued_at=datetime(2020, 1, 1, tzinfo=UTC), valid_until=datetime.now(UTC) - timedelta(days=2)),
        issuer_url=ISSUER,
        issuer_name="A",
        base_url=ISSUER,
    )
    assert code(vc.sign(past, key, jwk["kid"])) == "expired"
    future = vc.build_credential(
        _facts(issued_at=datetime.now(UTC) + timedelta(days=1)), issuer_url=ISSUER, issuer_name="A", base_url=ISSUER
    )
    assert code(vc.sign(future, key, jwk["kid"])) == "not-yet-valid"
    assert code(f"{h}.{p}.{s}!") == "malformed"
    assert code(f"{h}.{p}") == "malformed"
    assert code(f"{h}.{p}.{s}".replace(s[:8], "A" * 8)) == "bad-signature"
    assert vc.peek_kid(token) == kid_url and vc.peek_kid("%%%") is None


def test_rs256_sign_and_verify_and_key_confusion() -> None:
    kid, jwk, pem, key = keys.new_key("s3cret", "RS256")
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and kid == keys.thumbprint(jwk) and "d" not in jwk
    assert keys.public_key_from_jwk(jwk).public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert keys.decrypt_private(pem, "s3cret").private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    cred = vc.build_credential(_facts(), issuer_url=ISSUER, issuer_name="Academy", base_url=ISSUER)
    token = vc.sign(cred, key, vc.key_url(ISSUER, kid))
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    published = {kid: keys.public_key_from_jwk(jwk)}
    assert vc.verify(token, published, issuer_url=ISSUER)["jti"] == cred["id"]
    # An EdDSA signature presented under the RSA key's kid is refused.
    ed = Ed25519PrivateKey.generate()
    confused = jwt.encode(vc.jwt_claims(cred), ed, algorithm="EdDSA", headers={"kid": vc.key_url(ISSUER, kid)})
    with pytest.raises(vc.CredentialError) as err:
        vc.verify(confused, published, issuer_url=ISSUER)
    assert err.value.code == "bad-signature"


def test_multi_state_status_list() -> None:
    encoded = statuslist.encode_states([(0, 1), (1, 2), (5, 3), (131_071, 2)])
    bits = statuslist.decode(encoded)
    assert len(bits) == statuslist.LIST_BITS * 2 // 8 == 32_768
    assert bits[0] == 0b0110_0000  # entry 0 = 01, entry 1 = 10
    assert [statuslist.state_at(bits, i) for i in (0, 1, 2, 5, 131_071)] == [1, 2, 0, 3, 2]
    with pytest.raises(ValueError):
        statuslist.encode_states([(0, 4)])
    with pytest.raises(ValueError):
        statuslist.encode_states([(statuslist.LIST_BITS, 1)])


# --- PDF and page --------------------------------------------------------------------------


def test_page_language_and_escaping() -> None:
    assert page.choose_language("en", "ko") == "en"
    assert page.choose_language(None, "en-US,en;q=0.9,ko;q=0.5") == "en"
    assert page.choose_language(None, "ko-KR,ko;q=0.9,en;q=0.8") == "ko"
    assert page.choose_language(None, "fr") == "ko"
    html = page.render(
        page.PageFacts(serial="X", status="revoked", holder_name="<script>", level=1, reason="오류"), "ko"
    )
    assert "취소됨" in html and "&lt;script&gt;" in html and "<script>" not in html and "오류" in html
    assert "Revoked" in page.render(page.PageFacts(serial="X", status="revoked"), "en")
