"""Placement intake: ``PUT /v1/placements/{result_id}`` from the placement service."""

from __future__ import annotations

from litestar import Response, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from services.common.auth import allow_peers
from services.progress.schemas import PlacementIn, PlacementOut
from services.progress.store import intake
from services.progress.store.base import Db


@put(
    "/v1/placements/{result_id:str}",
    opt=allow_peers("placement"),
    tags=["placement intake"],
    status_code=201,
    summary="Receive a placement result",
    responses={200: ResponseSpec(PlacementOut, description="The same result again: the first answer")},
)
async def receive_placement(
    db: NamedDependency[Db], result_id: FromPath[str], data: JSONBody[PlacementIn]
) -> Response[PlacementOut]:
    """Creates or re-places the official's learning path. Idempotent on the result id: 201 the
    first time, 200 with the same body for the same content, 409 for different content. A newer
    result re-places the official unless they have activity above the new level (then
    ``applied`` is false and the path stays)."""
    out, created = await intake.receive(db, result_id, data)
    return Response(out, status_code=201 if created else 200)
