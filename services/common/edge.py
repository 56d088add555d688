"""The checks every request passes before routing, and the headers every answer carries (applied by
the kernel's front middleware, ``front.py``):

- headers larger than ``max_header_bytes`` in total get 431;
- ``X-Forwarded-For`` is believed only from a configured proxy (``trusted_proxies``), and then
  names the client address that rate limits count; from anyone else it is dropped;
- text must not carry NUL characters or lone surrogates, in the path, the query or a JSON body,
  and a JSON body may nest at most ``max_json_depth`` levels: 400, before any handler parses it;
- every answer says ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
  HTML pages also get a strict Content-Security-Policy (scripts only from the page's own origin,
  none inline; no framing).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar.types import Scope, Send

from services.common.errors import PROBLEM_JSON

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
_PAGE = [(b"content-security-policy", PAGE_CSP.encode()), (b"x-frame-options", b"DENY")]
_FORWARDED = {b"x-forwarded-for", b"x-real-ip", b"forwarded"}
# A JSON \u escape of NUL or of a UTF-16 surrogate half.
_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_HIGH, _LOW = range(0xD800, 0xDC00), range(0xDC00, 0xE000)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


class EdgeError(Exception):
    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8,127.0.0.1`` as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def in_networks(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def forwarded_client(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The client address: the nearest address in ``X-Forwarded-For`` that is not a trusted proxy,
    walking back from ``peer``; ``peer`` itself when it is not a trusted proxy."""
    if not in_networks(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: count the proxy itself
        if not in_networks(hop, trusted):
            return hop
    return hops[0] if hops else peer


def check_text(value: str, where: str) -> None:
    """No NUL and no lone surrogates (``\\udcxx`` is also how undecodable bytes arrive)."""
    if "\x00" in value:
        raise EdgeError(400, "invalid-text", f"The {where} contains a NUL character (U+0000).")
    if not value.isascii() and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise EdgeError(400, "invalid-text", f"The {where} contains a lone surrogate or bytes that are not UTF-8.")


def check_query(raw: bytes, max_depth: int = 64) -> None:
    for part in raw.split(b"&"):
        decoded = unquote_to_bytes(part.replace(b"+", b" "))
        if b"\x00" in decoded:
            raise EdgeError(400, "invalid-text", "The query string contains a NUL character (U+0000).")
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EdgeError(400, "invalid-text", "The query string is not valid UTF-8.") from exc
        if b"[" in decoded or b"{" in decoded:
            check_json(decoded.partition(b"=")[2], max_depth)  # JSON in a parameter (xAPI's agent)


def _check_escapes(body: bytes) -> None:
    """Refuse ``\\u0000`` and any surrogate escape that is not half of a proper pair."""
    low_due: int | None = None  # where the low half of the last high-surrogate escape must start
    for match in _ESCAPE.finditer(body):
        start, slashes = match.start(), 0
        while start - slashes - 1 >= 0 and body[start - slashes - 1] == 0x5C:
            slashes += 1
        if slashes % 2:
            continue  # an escaped backslash: the \u is literal text
        code = int(match.group(1), 16)
        if low_due is not None:
            if start != low_due or code not in _LOW:
                break
            low_due = None
        elif code == 0:
            raise EdgeError(400, "invalid-text", "A text value in the body contains a NUL character (U+0000).")
        elif code in _HIGH:
            low_due = match.end()
        else:
            low_due = -1
            break
    if low_due is not None:
        raise EdgeError(400, "invalid-text", "A text value in the body contains a lone surrogate.")


def json_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text, brackets inside strings not counted.
    Escaped backslashes and quotes are dropped, then everything but quotes and brackets (at C
    speed), so the walk in Python covers only those few bytes."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    depth = deepest = 0
    in_string = False
    for byte in unescaped.translate(None, _NOT_STRUCTURE):
        if byte == 0x22:
            in_string = not in_string
        elif in_string:
            continue
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_json(body: bytes, max_depth: int) -> None:
    """The nesting depth of a JSON document and its text (no NUL, no lone surrogate escapes)."""
    if body.count(b"[") + body.count(b"{") > max_depth and json_depth(body) > max_depth:
        raise EdgeError(400, "too-deep", f"The JSON body nests deeper than {max_depth} levels.")
    if b"\x00" in body:
        raise EdgeError(400, "invalid-text", "The body contains a NUL byte.")
    if b"\\u" in body or b"\\U" in body:
        _check_escapes(body)


async def refuse(scope: Scope, send: Send, error: EdgeError, request_id: str) -> None:
    """Answer an edge refusal as problem+json (with the request id and the security headers)."""
    body: dict[str, Any] = {
        "type": f"urn:lms:problem:{error.slug}",
        "title": "Request refused at the edge",
        "status": error.status,
        "detail": error.detail,
        "instance": scope.get("path", ""),
        "request_id": request_id,
    }
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    start: Any = {"type": "http.response.start", "status": error.status, "headers": headers + _ALWAYS}
    await send(start)
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def scanned(content_type: str) -> bool:
    """Bodies checked before routing: everything but multipart and binary uploads (a handler may
    decode a body as JSON whatever its declared type)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return not kind.startswith(("multipart/", "application/octet-stream", "application/pdf", "image/"))
