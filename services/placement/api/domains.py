"""Content areas of the item bank, defined by admins."""

from __future__ import annotations

from litestar import Controller, Response, get, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from services.common.auth import allow
from services.common.errors import Problem
from services.placement.api.common import Session
from services.placement.models import ContentDomain
from services.placement.schemas import DomainIn, DomainName, DomainOut
from services.placement.store import bank as store

CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def domain_out(d: ContentDomain) -> DomainOut:
    return DomainOut(d.code, DomainName(d.name_ko, d.name_en), d.share, d.position)


class DomainController(Controller):
    path = "/v1/domains"
    tags = ["item bank"]
    opt = allow("admin")

    @get("/")
    async def list_domains(self, session: Session) -> list[DomainOut]:
        """List the bank's content areas in order."""
        return [domain_out(d) for d in await store.list_domains(session)]

    @get("/{code:str}")
    async def get_domain(self, code: FromPath[str], session: Session) -> DomainOut:
        """Read one content area."""
        return domain_out(await store.get_domain(session, code))

    @put(
        "/{code:str}",
        status_code=200,
        responses={201: ResponseSpec(data_container=DomainOut, description="The content area is defined.")},
    )
    async def put_domain(self, code: FromPath[str], data: JSONBody[DomainIn], session: Session) -> Response[DomainOut]:
        """Define or change a content area (names and target share)."""
        if not 1 <= len(code) <= 64 or not set(code) <= CODE_CHARS or code[0] in "._-":
            raise Problem(
                400,
                "validation",
                "The domain code must be 1-64 lower-case letters, digits, '.', '_' or '-'.",
                errors=[{"field": "code", "source": "path", "message": "invalid domain code"}],
            )
        found, created = await store.put_domain(session, code, data.name.ko.strip(), data.name.en.strip(), data.share)
        if created:
            return Response(domain_out(found), status_code=201, headers={"Location": f"{self.path}/{code}"})
        return Response(domain_out(found), status_code=200)
