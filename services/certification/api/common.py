"""Helpers shared by the controllers."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification.schemas import CertificateOut
from services.certification.store.certificates import Issuer
from services.common.auth import Principal
from services.common.errors import Problem

# The kernel's dependencies, named explicitly (Litestar 3 no longer infers them).
Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]


def issuer_of(request: Request[Any, Any, Any]) -> Issuer:
    issuer: Issuer = request.app.state.issuer
    return issuer


def wake_webhooks(request: Request[Any, Any, Any]) -> None:
    worker = getattr(request.app.state, "webhooks", None)
    if worker is not None:
        worker.wake()


def certificate_out(row: Row[Any], issuer: Issuer, pdf_base: str = "/v1/certificates") -> CertificateOut:
    return CertificateOut(
        id=row.id,
        serial=row.serial,
        official_id=row.official_id,
        official_name=row.official_name,
        org=row.org,
        level=row.level,
        status=row.status,
        status_reason=row.status_reason,
        issued_at=row.issued_at,
        valid_until=row.valid_until,
        completed_at=row.completed_at,
        curriculum_version=row.curriculum_version,
        verify_url=issuer.verify_url(row.serial),
        pdf_url=f"{issuer.base}{pdf_base}/{row.id}/pdf",
        supersedes_id=row.supersedes_id,
        superseded_by_id=row.superseded_by_id,
        credential=row.vc_jwt,
    )


def parse_uuid(value: str, what: str = "certificate") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Problem(404, "not-found", f"No {what} with id {value} exists, or you may not see it.") from None


LEVEL_DIGITS = ("0", "1", "2", "3", "4")


def parse_level(value: str) -> int:
    if value not in LEVEL_DIGITS:  # ASCII only: str.isdigit() also accepts "²" and "٣"
        raise Problem(
            400,
            "invalid-level",
            f"Level must be an integer from 0 to 4, not {value!r}.",
            errors=[{"field": "level", "source": "path", "message": "expected 0-4"}],
        )
    return int(value)
