"""Signed statements: the JWS in a signature attachment must be RS256/384/512, verify against
the certificate it carries (``x5c``) when it has one, and its payload must be the statement."""

from __future__ import annotations

import base64
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

import jwt
import msgspec
from cryptography import x509

ALGORITHMS = ("RS256", "RS384", "RS512")
IGNORED = ("id", "authority", "stored", "version", "attachments", "timestamp")


def _core(statement: dict[str, Any]) -> bytes:
    kept = {k: v for k, v in statement.items() if k not in IGNORED}
    if isinstance(kept.get("result"), dict) and isinstance(kept["result"].get("duration"), str):
        kept["result"] = {**kept["result"], "duration": hundredths(kept["result"]["duration"])}
    return msgspec.json.encode(kept, order="sorted")


def hundredths(duration: str) -> str:
    """A duration with its seconds cut to 0.01 s: precision beyond that is not compared."""
    match = re.search(r"(\d+(\.\d+)?)S$", duration)
    if not match:
        return duration
    seconds = Decimal(match.group(1)).quantize(Decimal("0.01"), rounding=ROUND_DOWN).normalize()
    return duration[: match.start()] + f"{seconds:f}S"


def signature_problem(token: bytes, statement: dict[str, Any]) -> str | None:
    """None if the JWS signs this statement, else why not."""
    try:
        text = token.decode("ascii").strip()
        header = jwt.get_unverified_header(text)
    except (UnicodeDecodeError, jwt.PyJWTError):
        return "the signature attachment is not a JWS in compact serialization"
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        return f"the JWS algorithm must be RS256, RS384 or RS512, not {alg!r}"
    try:
        if isinstance(header.get("x5c"), list) and header["x5c"]:
            cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
            payload = jwt.api_jws.decode(text, cert.public_key(), algorithms=[alg])  # type: ignore[arg-type]
        else:
            payload = jwt.api_jws.decode(text, algorithms=[alg], options={"verify_signature": False})
        signed = msgspec.json.decode(payload)
    except (jwt.PyJWTError, ValueError, msgspec.DecodeError) as exc:
        return f"the JWS does not verify: {exc}"
    if not isinstance(signed, dict) or _core(signed) != _core(statement):
        return "the JWS payload is not the statement it is attached to"
    if "id" in signed and str(signed["id"]).lower() != str(statement.get("id", "")).lower():
        return "the JWS payload is not the statement it is attached to (id differs)"
    return None
