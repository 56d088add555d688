"""W3C Bitstring Status List: the bitstring, its GZIP + multibase base64url encoding, and entries.

Bit 0 is the most significant bit of the first byte. Each list has LIST_BITS entries (the
specification's 131,072-entry minimum, for herd privacy); a list holds at most LIST_FILL
certificates so that random index assignment rarely collides.

A credential carries one status entry (Open Badges 3.0 allows one ``credentialStatus`` object):
the multi-state ``message`` purpose with ``statusSize`` 2, whose four values say active, revoked,
suspended or superseded. Credentials issued before carried two one-bit entries (``revocation``
and ``suspension``); those lists are still served so they keep verifying.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable

from services.certification.domain.keys import b64url, b64url_decode

LIST_BITS = 131_072
LIST_FILL = 65_536
PURPOSES = ("message", "revocation", "suspension")
MESSAGE = "message"
STATUS_SIZE = 2
# statusMessage of the entry: the value stored for each certificate status (2 bits, 4 values).
STATUS_VALUES = {"active": 0, "revoked": 1, "suspended": 2, "superseded": 3}
STATUS_MESSAGES = [{"status": f"0x{v:x}", "message": k} for k, v in STATUS_VALUES.items()]


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
    return _pack(bitstring(indices, size))


def _pack(bits: bytearray) -> str:
    return "u" + b64url(gzip.compress(bytes(bits), compresslevel=9, mtime=0))


def encode_states(states: Iterable[tuple[int, int]], size: int = LIST_BITS, width: int = STATUS_SIZE) -> str:
    """A multi-state list: each (index, value) puts ``value`` in the ``width`` bits at
    ``index * width`` (most significant bit first), as the specification's statusSize says."""
    bits = bytearray(size * width // 8)
    for index, value in states:
        if not 0 <= index < size:
            raise ValueError(f"status index {index} is outside the list")
        if not 0 <= value < 1 << width:
            raise ValueError(f"status value {value} does not fit {width} bits")
        for k in range(width):
            if value & (1 << (width - 1 - k)):
                position = index * width + k
                bits[position // 8] |= 0x80 >> (position % 8)
    return _pack(bits)


def state_at(bits: bytes, index: int, width: int = STATUS_SIZE) -> int:
    """The value of entry ``index`` in a decoded multi-state list."""
    value = 0
    for k in range(width):
        value = (value << 1) | int(is_set(bits, index * width + k))
    return value


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (prefix 'u')")
    return gzip.decompress(b64url_decode(encoded[1:]))


def is_set(bits: bytes, index: int) -> bool:
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
