"""Keyset pagination: an opaque ``next_cursor`` that encodes the last row's sort key."""

from __future__ import annotations

import base64
from typing import Any, Generic, TypeVar

import msgspec

from services.common.errors import Problem

T = TypeVar("T")
MAX_LIMIT = 500


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """The key encoded by :func:`encode_cursor`, None for no cursor; a 400 problem if tampered."""
    if not cursor:
        return None
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, msgspec.DecodeError) as exc:
        raise Problem(400, "invalid-cursor", "The cursor is not one this service issued; start without it.") from exc


def page(rows: list[T], limit: int, key: Any) -> Page[T]:
    """Build a page from up to ``limit + 1`` fetched rows; ``key(row)`` gives the cursor key."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=encode_cursor(key(rows[-1])))
    return Page(items=rows)
