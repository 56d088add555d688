"""W3C Bitstring Status List: the bitstring, its GZIP + multibase base64url encoding, and entries.

Bit 0 is the most significant bit of the first byte. Each list has LIST_BITS entries (the
specification's 16 KiB minimum, for herd privacy); a list holds at most LIST_FILL certificates so
that random index assignment rarely collides.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable

from services.certification.domain.keys import b64url, b64url_decode

LIST_BITS = 131_072
LIST_FILL = 65_536
PURPOSES = ("revocation", "suspension")


def list_for(serial_no: int) -> int:
    """Which list a certificate's status entry lives in (1-based)."""
    return (serial_no - 1) // LIST_FILL + 1 if serial_no > 0 else 1


def bitstring(indices: Iterable[int], size: int = LIST_BITS) -> bytearray:
    bits = bytearray(size // 8)
    for index in indices:
        if not 0 <= index < size:
            raise ValueError(f"status index {index} is outside the list")
        bits[index // 8] |= 0x80 >> (index % 8)
    return bits


def encode(indices: Iterable[int], size: int = LIST_BITS) -> str:
    """The ``encodedList`` value: multibase ('u') base64url, no padding, of the GZIP'd bitstring.
    GZIP's mtime is fixed at 0 so equal lists encode to equal strings."""
    return "u" + b64url(gzip.compress(bytes(bitstring(indices, size)), compresslevel=9, mtime=0))


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (prefix 'u')")
    return gzip.decompress(b64url_decode(encoded[1:]))


def is_set(bits: bytes, index: int) -> bool:
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
