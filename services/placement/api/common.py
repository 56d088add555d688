"""What the placement controllers share: dependency and parameter types, and row-to-schema mappers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.pagination import MAX_LIMIT
from services.placement.models import BankVersion, Item
from services.placement.schemas import BankVersionOut, DomainName, DomainOut, ItemOut
from services.placement.store.bank import VersionCache

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, QueryParameter(description="The `next_cursor` of the previous page.")]
JSON_MEDIA = "application/json"


def versions(request: Request[Any, Any, Any]) -> VersionCache:
    cache: VersionCache = request.app.state.placement_versions
    return cache


def item_out(item: Item) -> ItemOut:
    return ItemOut(
        id=item.id,
        code=item.code,
        domain=item.domain,
        stem=item.stem,
        options=item.options,
        answer=item.answer,
        a=item.a,
        b=item.b,
        c=item.c,
        status=item.status,  # type: ignore[arg-type]
        calibrated=item.calibrated,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def version_out(v: BankVersion) -> BankVersionOut:
    assert v.id is not None
    return BankVersionOut(
        id=v.public_id,
        number=v.id,
        active=v.active,
        calibrated=v.calibrated,
        item_count=v.item_count,
        domains=list(v.domains),
        domain_specs=[
            DomainOut(d["code"], DomainName(d["name"]["ko"], d["name"]["en"]), d["share"], k)
            for k, d in enumerate(v.domain_specs or [])
        ],
        c_prior=[v.c_prior_alpha, v.c_prior_beta],
        note=v.note,
        sessions_started=v.sessions_started,
        published_by=v.published_by,
        published_at=v.published_at,
    )
