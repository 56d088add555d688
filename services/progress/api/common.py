"""What several controllers answer alike: 201 with ``Location``, and the ``Idempotency-Key`` header."""

from __future__ import annotations

from typing import Annotated, TypeVar

from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.params import HeaderParameter

from services.progress.store.sessions import Answer

T = TypeVar("T")

LOCATION = [ResponseHeader(name="Location", description="The created resource.", documentation_only=True)]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", description="A retry with the same key answers the first result."),
]


def created(answer: Answer[T], location: str) -> Response[T]:
    """201 with the new resource's ``Location`` (a replay answers the first status and body)."""
    headers = {"Location": location}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, status_code=answer.status, headers=headers)
