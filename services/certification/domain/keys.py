"""Credential-signing keys (Ed25519 for EdDSA, RSA 3072 for RS256): generation, encryption at
rest, JWK form and the RFC 7638 thumbprint that names each key."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PrivateKey = Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = Ed25519PublicKey | rsa.RSAPublicKey
# The JWS algorithms we sign with: EdDSA (Ed25519) and RS256, the Open Badges 3.0 minimum.
ALGORITHMS = ("EdDSA", "RS256")
RSA_BITS = 3072


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(key: PublicKey) -> dict[str, Any]:
    """The public JWK with its thumbprint as ``kid`` (the API publishes kid as a URI, see the store)."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        jwk: dict[str, Any] = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
        alg = "RS256"
    else:
        x = b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        jwk, alg = {"kty": "OKP", "crv": "Ed25519", "x": x}, "EdDSA"
    return {**jwk, "kid": thumbprint(jwk), "alg": alg, "use": "sig"}


# RFC 7638: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256): a stable, collision-free key name."""
    members = {m: jwk[m] for m in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def algorithm_of(jwk: dict[str, Any]) -> str:
    return "RS256" if jwk.get("kty") == "RSA" else "EdDSA"


def encrypt_private(key: PrivateKey, passphrase: str) -> str:
    """PKCS#8 PEM encrypted with ``passphrase`` (the best algorithm `cryptography` offers)."""
    if not passphrase:
        raise ValueError("a key passphrase is required: private keys are never stored in plain text")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def decrypt_private(pem: str, passphrase: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=passphrase.encode())
    if not isinstance(key, Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise ValueError("the stored key is neither an Ed25519 nor an RSA key")
    return key


def new_key(passphrase: str, alg: str = "EdDSA") -> tuple[str, dict[str, Any], str, PrivateKey]:
    """(kid, public JWK, encrypted PKCS#8 PEM, private key) for a fresh key of ``alg``."""
    if alg not in ALGORITHMS:
        raise ValueError(f"signing algorithm must be one of {ALGORITHMS}, not {alg!r}")
    key: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        if alg == "RS256"
        else Ed25519PrivateKey.generate()
    )
    jwk = public_jwk(key.public_key())
    return jwk["kid"], jwk, encrypt_private(key, passphrase), key


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    if jwk.get("kty") == "RSA":
        n, e = (int.from_bytes(b64url_decode(jwk[m]), "big") for m in ("n", "e"))
        return rsa.RSAPublicNumbers(e, n).public_key()
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 or RSA JWK")
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
