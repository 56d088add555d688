"""Embedded Data Integrity proofs (W3C VC Data Integrity, cryptosuite ``eddsa-rdfc-2022``): the
credential and the proof options are canonicalised as RDF (RDFC-1.0, also known as URDNA2015),
hashed with SHA-256 and signed with Ed25519; ``proofValue`` is the base58btc multibase signature.

JSON-LD contexts are never fetched: the only documents a credential may use are the ones bundled
in ``services/certification/contexts`` (the VC 2.0 and Open Badges 3.0.3 contexts); any other
URL is refused. Canonicalisation uses ``pyld`` (the JSON-LD processor maintained by Digital
Bazaar, the same group behind the JavaScript verifier the tests check us with)."""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld

CONTEXTS = Path(__file__).resolve().parent.parent / "contexts"
BUNDLED = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
}
CRYPTOSUITE = "eddsa-rdfc-2022"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_MULTICODEC = b"\xed\x01"  # multicodec ed25519-pub, as an unsigned varint


class IntegrityError(Exception):
    pass


@cache
def _context(url: str) -> dict[str, Any]:
    return dict(json.loads((CONTEXTS / BUNDLED[url]).read_text()))


def load_document(url: str, options: Any = None) -> dict[str, Any]:
    """The pyld document loader: bundled contexts only, never the network."""
    if url not in BUNDLED:
        raise IntegrityError(f"JSON-LD document {url!r} is not bundled; refusing to fetch it")
    return {"contextUrl": None, "documentUrl": url, "document": _context(url)}


def canonical(document: dict[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document."""
    try:
        text = jsonld.normalize(
            document,
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": load_document},
        )
    except jsonld.JsonLdError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, IntegrityError):
            cause = cause.__cause__ or getattr(cause, "cause", None)
        raise IntegrityError(str(cause or exc)) from exc
    if not text:
        raise IntegrityError("the document expands to no RDF statements")
    return str(text)


def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _ALPHABET[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _ALPHABET.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def public_key_multibase(key: Ed25519PublicKey) -> str:
    """The Multikey form of an Ed25519 public key: 'z' + base58btc(0xed01 + 32 key bytes)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58btc(_ED25519_MULTICODEC + raw)


def multikey(key: Ed25519PublicKey, method_id: str, controller: str) -> dict[str, Any]:
    """The verification method document a proof's ``verificationMethod`` dereferences to."""
    return {
        "@context": MULTIKEY_CONTEXT,
        "id": method_id,
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": public_key_multibase(key),
    }


def _hash_data(unsecured: dict[str, Any], options: dict[str, Any]) -> bytes:
    config = {"@context": unsecured["@context"], **options}
    return hashlib.sha256(canonical(config).encode()).digest() + hashlib.sha256(canonical(unsecured).encode()).digest()


def add_proof(credential: dict[str, Any], key: Ed25519PrivateKey, method_id: str, created: str) -> dict[str, Any]:
    """The credential with an embedded ``DataIntegrityProof`` (proof purpose assertionMethod).
    ``proof`` is a one-element array: the Open Badges 3.0 schema requires an array there."""
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": method_id,
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(_hash_data(unsecured, options))
    return {**copy.deepcopy(unsecured), "proof": [{**options, "proofValue": "z" + base58btc(signature)}]}


def verify_proof(secured: dict[str, Any], key: Ed25519PublicKey) -> None:
    """Check an ``eddsa-rdfc-2022`` proof with ``key``; raises :class:`IntegrityError`."""
    proofs = secured.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs]
    proof = next((p for p in proofs if isinstance(p, dict) and p.get("cryptosuite") == CRYPTOSUITE), None)
    if proof is None:
        raise IntegrityError("no eddsa-rdfc-2022 proof")
    value = proof.get("proofValue", "")
    if not isinstance(value, str) or not value.startswith("z"):
        raise IntegrityError("proofValue is not base58btc multibase")
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = {k: v for k, v in secured.items() if k != "proof"}
    try:
        key.verify(base58btc_decode(value[1:]), _hash_data(unsecured, options))
    except (InvalidSignature, ValueError) as exc:
        raise IntegrityError("the proof does not match the credential") from exc
