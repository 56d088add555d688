"""The one rule for official ids, checked identically at every edge.

An ``official_id`` is the subject of the identity provider's tokens: 1 to 128 characters, ASCII
letters and digits first, then letters, digits and ``. _ - : @``. Anything else (a ``/``, a space,
non-ASCII, 129 characters) is refused where it enters (token, path or body), so that no message
between services can be refused for an id another service accepted. Peer-call paths still
encode ids (:func:`path_segment`)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

import msgspec

OFFICIAL_ID_MAX = 128
OFFICIAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}(?!\n)$"  # (?!\n): no trailing newline
_OFFICIAL_ID = re.compile(OFFICIAL_ID_PATTERN)
OFFICIAL_ID_RULE = "1-128 characters: ASCII letters and digits, then also . _ - : @"

OfficialId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=OFFICIAL_ID_MAX,
        pattern=OFFICIAL_ID_PATTERN,
        description=f"An official's id ({OFFICIAL_ID_RULE}).",
    ),
]


def is_official_id(value: str) -> bool:
    return bool(_OFFICIAL_ID.match(value))


def path_segment(value: str) -> str:
    """``value`` encoded for one path segment of a peer call."""
    return quote(value, safe="")
