"""Data Integrity (eddsa-rdfc-2022) without I/O: sign, verify, tamper, bundled contexts only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.certification.domain import credential as vc
from services.certification.domain import integrity

BASE = "https://lms.example.go.kr"


def _credential() -> dict:
    facts = vc.CertificateFacts(
        uuid.uuid4(), "LMS-2026-L2-000042-7", "o1", "김민수", 2, datetime(2026, 5, 1, tzinfo=UTC), None, 1, 42
    )
    return vc.build_credential(facts, issuer_url=f"{BASE}/v1/issuer", issuer_name="Academy", base_url=BASE)


def test_base58btc_roundtrip_and_known_value() -> None:
    assert integrity.base58btc(b"hello world") == "StV1DL6CwTryKyV"
    for data in (b"", b"\0\0\x01", bytes(range(64))):
        assert integrity.base58btc_decode(integrity.base58btc(data)) == data


def test_multikey_of_an_ed25519_key() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    doc = integrity.multikey(key, f"{BASE}/v1/keys/k/multikey", f"{BASE}/v1/issuer")
    assert doc["type"] == "Multikey" and doc["publicKeyMultibase"].startswith("z6Mk")


def test_sign_verify_and_tamper() -> None:
    key = Ed25519PrivateKey.generate()
    credential = _credential()
    secured = integrity.add_proof(credential, key, f"{BASE}/v1/keys/k/multikey", credential["validFrom"])
    assert secured == integrity.add_proof(credential, key, f"{BASE}/v1/keys/k/multikey", credential["validFrom"])
    integrity.verify_proof(secured, key.public_key())
    forged = {**secured, "name": "Level 4"}
    with pytest.raises(integrity.IntegrityError):
        integrity.verify_proof(forged, key.public_key())
    with pytest.raises(integrity.IntegrityError):
        integrity.verify_proof(secured, Ed25519PrivateKey.generate().public_key())


def test_contexts_are_never_fetched() -> None:
    with pytest.raises(integrity.IntegrityError, match="not bundled"):
        integrity.canonical({"@context": "https://example.org/ctx.jsonld", "name": "x"})
