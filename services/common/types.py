"""Types shared by every service's HTTP edge.

``AwareDatetime`` is the type of every timestamp a client sends in a body: msgspec refuses a
timestamp without a time-zone offset while decoding, and the kernel's validation problem names the
field ("needs a time zone offset"). Litestar does not apply msgspec constraints to query
parameters, and batch handlers list every bad item at once, so those check with :func:`is_aware`
(the same rule as a predicate) and say "needs a time zone offset, e.g. ``TZ_EXAMPLE``".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

TZ_EXAMPLE = "2026-05-01T09:00:00Z"

AwareDatetime = Annotated[
    datetime,
    msgspec.Meta(tz=True, description=f"An ISO 8601 timestamp with a time-zone offset, e.g. {TZ_EXAMPLE}."),
]


def is_aware(moment: datetime) -> bool:
    """True when ``moment`` carries a usable time-zone offset."""
    return moment.tzinfo is not None and moment.utcoffset() is not None


__all__ = ["TZ_EXAMPLE", "AwareDatetime", "is_aware"]
