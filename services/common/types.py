"""Types shared by every service's HTTP edge.

``AwareDatetime`` is the type of every timestamp a client sends in a body: msgspec refuses a
timestamp without a time-zone offset while decoding, and the kernel's validation problem names the
field ("needs a time zone offset"). Litestar does not apply msgspec constraints to query
parameters, so a handler taking a timestamp in the query passes it through :func:`require_aware`.
Where a handler collects every bad item of a batch itself (events, xAPI statements),
:func:`is_aware` is the same rule as a predicate.
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


def require_aware(moment: datetime | None, field: str, source: str = "query") -> datetime | None:
    """``moment`` if it is None or aware; otherwise the same 400 validation problem a body gets."""
    from services.common.errors import Problem

    if moment is None or is_aware(moment):
        return moment
    message = f"needs a time zone offset, e.g. {TZ_EXAMPLE}"
    raise Problem(
        400,
        "validation",
        f"{field}: {message}",
        title="Invalid request",
        errors=[{"field": field, "source": source, "message": message}],
    )


__all__ = ["TZ_EXAMPLE", "AwareDatetime", "is_aware", "require_aware"]
