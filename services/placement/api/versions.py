"""Published bank versions."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from services.common.auth import allow
from services.common.pagination import Page, decode_cursor, page
from services.placement.api.common import Caller, Cursor, Limit, Session, version_out
from services.placement.schemas import BankVersionOut, PublishIn
from services.placement.store import bank as store


class VersionController(Controller):
    path = "/v1/bank/versions"
    tags = ["item bank"]
    opt = allow("admin")

    @post(
        "/",
        responses={200: ResponseSpec(data_container=BankVersionOut, description="The same content is published.")},
    )
    async def publish_version(
        self, session: Session, principal: Caller, data: JSONBody[PublishIn | None] = None
    ) -> Response[BankVersionOut]:
        """Publish the bank as the active, immutable version (same content: 200).

        ``c_prior`` is the Beta(alpha, beta) prior on c that calibrating this version uses; without
        it the version keeps the active version's (Beta(2, 20) on a first version). Publishing the
        same items with a different prior makes a new version."""
        version, created = await store.publish_now(
            session, principal.sub, data.note if data else "", data.c_prior_tuple() if data else None
        )
        if not created:
            return Response(version_out(version), status_code=200)
        return Response(version_out(version), status_code=201, headers={"Location": f"{self.path}/{version.id}"})

    @get("/")
    async def list_versions(self, session: Session, limit: Limit = 50, cursor: Cursor = None) -> Page[BankVersionOut]:
        """List versions, newest first."""
        after = decode_cursor(cursor)
        rows = await store.list_versions(session, limit, None if after is None else int(after))
        return page([version_out(v) for v in rows], limit, lambda r: r.number)

    @get("/{number:int}")
    async def get_version(self, number: FromPath[int], session: Session) -> BankVersionOut:
        """Read one version."""
        return version_out(await store.get_version(session, number))
