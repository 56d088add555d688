"""Human serials with a check digit: ``PREFIX-YYYY-LN-NNNNNN-C``; new serials' number is a unique
sequence number followed by random digits (see :func:`unguessable_number`).

The check digit is the Damm algorithm over the digits of year, level and number. Damm's table is a
totally anti-symmetric quasigroup of order 10, so it detects every single-digit error and every
adjacent transposition (Luhn misses 09/90).
"""

from __future__ import annotations

import re

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# ASCII digits only: \d would also match full-width and Arabic-Indic digits.
SERIAL_RE = re.compile(
    r"^(?P<prefix>[A-Z0-9]{1,16})-(?P<year>[0-9]{4})-L(?P<level>[0-4])-(?P<number>[0-9]{6,20})-(?P<check>[0-9])$"
)
# Random digits appended to the sequence number, so that serials cannot be enumerated: a guess
# hits an issued certificate with odds of about one in 10**RANDOM_DIGITS.
RANDOM_DIGITS = 7


def unguessable_number(sequence: int, random_part: int) -> int:
    """The number part of a serial: the unique sequence number, then ``RANDOM_DIGITS`` random
    digits (``random_part`` drawn by the caller, below ``10**RANDOM_DIGITS``)."""
    if not 0 <= random_part < 10**RANDOM_DIGITS:
        raise ValueError("random_part out of range")
    return sequence * 10**RANDOM_DIGITS + random_part


def damm(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def _payload(year: int, level: int, number: int) -> str:
    return f"{year:04d}{level}{number:06d}"


def make_serial(prefix: str, year: int, level: int, number: int) -> str:
    if not 0 <= level <= 4:
        raise ValueError("level must be 0-4")
    if number < 0:
        raise ValueError("number must not be negative")
    return f"{prefix}-{year:04d}-L{level}-{number:06d}-{damm(_payload(year, level, number))}"


def parse_serial(serial: str) -> tuple[str, int, int, int] | None:
    """(prefix, year, level, number) when ``serial`` is well formed and its check digit matches."""
    match = SERIAL_RE.match(serial.strip().upper())
    if not match:
        return None
    digits = match["year"] + match["level"] + match["number"]
    if damm(digits + match["check"]) != 0:
        return None
    return match["prefix"], int(match["year"]), int(match["level"]), int(match["number"])


def is_valid_serial(serial: str) -> bool:
    return parse_serial(serial) is not None
