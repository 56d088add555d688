"""``multipart/mixed`` bodies of statements with attachments: parsing a request, building an answer."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field

SHA2 = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}


@dataclass
class Part:
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    content: bytes = b""


class MultipartError(ValueError):
    pass


def boundary_of(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
    if not match:
        raise MultipartError("multipart/mixed needs a boundary parameter")
    return match.group(1)


def parse(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body (RFC 2046), each with its headers and raw content."""
    delimiter = b"--" + boundary_of(content_type).encode()
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].lstrip().startswith(b"--"):
        raise MultipartError("the multipart body is not terminated by its closing boundary")
    parts = []
    for chunk in chunks[1:-1]:
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError("a part has no blank line between its headers and its content")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers, content.removesuffix(b"\r\n")))
    return parts


def sha2(content: bytes, length: int = 64) -> str:
    return SHA2.get(length, hashlib.sha256)(content).hexdigest()


def matches(content: bytes, digest: str) -> bool:
    algorithm = SHA2.get(len(digest))
    return algorithm is not None and algorithm(content).hexdigest() == digest.lower()


def build(first: bytes, attachments: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body: the JSON first, then each (sha2, content type, content)."""
    boundary = uuid.uuid4().hex
    out = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), first, b"\r\n"]
    for digest, content_type, content in attachments:
        out.append(
            f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {digest}\r\n\r\n".encode()
        )
        out += [content, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/mixed; boundary={boundary}"
