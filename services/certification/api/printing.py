"""PDF responses (rendering is CPU work: done in a thread)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request
from litestar.response import Response

from services.certification.api.common import issuer_of
from services.certification.domain.pdf import PrintFacts, render

PDF = "application/pdf"


async def pdf_response(request: Request[Any, Any, Any], row: Any) -> Response[bytes]:
    issuer = issuer_of(request)
    settings = issuer.settings
    facts = PrintFacts(
        serial=row.serial,
        holder_name=row.official_name,
        org=row.org,
        level=row.level,
        issued_at=row.issued_at,
        issuer_name=settings.issuer_name,
        issuer_name_ko=settings.issuer_name_ko,
        verify_url=issuer.verify_url(row.serial),
        vc_jwt=row.vc_jwt,
        status=row.status,
    )
    body = await asyncio.to_thread(render, facts)
    return Response(
        body,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{row.serial}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
