"""Ed25519 credential-signing keys: generation, encryption at rest, JWK form and thumbprint kid."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(key: Ed25519PublicKey) -> dict[str, Any]:
    x = b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": x}
    return {**jwk, "kid": thumbprint(jwk), "alg": "EdDSA", "use": "sig"}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of an OKP key: a stable, collision-free kid."""
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def encrypt_private(key: Ed25519PrivateKey, passphrase: str) -> str:
    """PKCS#8 PEM encrypted with ``passphrase`` (the best algorithm `cryptography` offers)."""
    if not passphrase:
        raise ValueError("a key passphrase is required: private keys are never stored in plain text")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def decrypt_private(pem: str, passphrase: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=passphrase.encode())
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the stored key is not an Ed25519 key")
    return key


def new_key(passphrase: str) -> tuple[str, dict[str, Any], str, Ed25519PrivateKey]:
    """(kid, public JWK, encrypted PKCS#8 PEM, private key) for a fresh Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    jwk = public_jwk(key.public_key())
    return jwk["kid"], jwk, encrypt_private(key, passphrase), key


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


_SEAL_KEYS: dict[str, bytes] = {}


def _seal_key(passphrase: str) -> bytes:
    """A 256-bit key from the passphrase (scrypt, derived once per process)."""
    key = _SEAL_KEYS.get(passphrase)
    if key is None:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        key = Scrypt(salt=b"lms-certification-seal-v1", length=32, n=2**14, r=8, p=1).derive(passphrase.encode())
        _SEAL_KEYS[passphrase] = key
    return key


def seal(plaintext: str, passphrase: str) -> str:
    """Encrypt a small secret (e.g. a webhook signing secret) for storage: AES-256-GCM."""
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return "v1:" + b64url(nonce + AESGCM(_seal_key(passphrase)).encrypt(nonce, plaintext.encode(), b"seal"))


def unseal(sealed: str, passphrase: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not sealed.startswith("v1:"):
        raise ValueError("not a sealed value")
    raw = b64url_decode(sealed[3:])
    return AESGCM(_seal_key(passphrase)).decrypt(raw[:12], raw[12:], b"seal").decode()
