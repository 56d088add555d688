"""What several controllers answer alike: 201 with ``Location``."""

from __future__ import annotations

from typing import TypeVar

from litestar import Response
from litestar.datastructures import ResponseHeader

from services.progress.store.sessions import Answer

T = TypeVar("T")

LOCATION = [ResponseHeader(name="Location", description="The created resource.", documentation_only=True)]


def created(answer: Answer[T], location: str) -> Response[T]:
    """201 with the new resource's ``Location`` (a replay answers the first status and body)."""
    headers = {"Location": location}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, status_code=answer.status, headers=headers)
