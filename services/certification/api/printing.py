"""PDF responses (the store renders; rendering is CPU work done in a thread)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Response

from services.certification.api.common import issuer_of
from services.certification.store import certificates as store

PDF = "application/pdf"


async def pdf_response(request: Request[Any, Any, Any], row: Any) -> Response[bytes]:
    body = await store.printable(issuer_of(request), row)
    return Response(
        body,
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{row.serial}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
