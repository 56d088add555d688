"""Document resources (State, Activity Profile, Agent Profile): ETag concurrency and JSON merge."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

JSON = "application/json"


def etag(content: bytes) -> str:
    """The document's ETag value (a SHA-1 of its bytes, as the specification suggests)."""
    return hashlib.sha1(content).hexdigest()  # noqa: S324 (an entity tag, not a security hash)


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()}


@dataclass(frozen=True)
class Precondition:
    """The outcome of the If-Match / If-None-Match headers against the current document."""

    status: int  # 0 = go ahead, 412 = precondition failed, 409/400 = a PUT without any precondition
    detail: str = ""


def check_preconditions(
    current: str | None, if_match: str | None, if_none_match: str | None, *, overwrite: str
) -> Precondition:
    """``overwrite`` says what a PUT without If-Match or If-None-Match may do: ``free`` (replace),
    ``existing-409`` (refused on an existing document: State in 2.0) or ``profile`` (409 on an
    existing document, 400 on a new one: the profile resources)."""
    if if_match is not None:
        tags = _tags(if_match)
        if current is None or ("*" not in tags and current not in tags):
            return Precondition(412, "If-Match does not match the document's current ETag.")
    if if_none_match is not None:
        tags = _tags(if_none_match)
        if current is not None and ("*" in tags or current in tags):
            return Precondition(412, "If-None-Match: the document already exists.")
    if overwrite != "free" and if_match is None and if_none_match is None:
        if current is not None:
            return Precondition(409, "The document exists: send If-Match (its ETag) or If-None-Match to change it.")
        if overwrite == "profile":
            return Precondition(400, "Send If-None-Match: * to create a profile document, or If-Match to replace one.")
    return Precondition(0)


def is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == JSON


def json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def merged(old: bytes, old_type: str, new: bytes, new_type: str) -> bytes | None:
    """POST: both documents JSON objects, merged at the top level (new keys win); None when
    either is not a JSON object (the caller answers 400)."""
    if not (is_json(old_type) and is_json(new_type)):
        return None
    a, b = json_object(old), json_object(new)
    if a is None or b is None:
        return None
    return msgspec.json.encode({**a, **b})
