"""Placement tables (SQLModel). The HTTP contract lives in schemas.py, not here."""

from __future__ import annotations

from sqlmodel import SQLModel

from services.common.db import service_registry
from services.common.outbox import OutboxFields, outbox_indexes


class Base(SQLModel, registry=service_registry()):
    """Tables of this service only (its own metadata)."""


class Outbox(OutboxFields, Base, table=True):  # type: ignore[call-arg]
    __tablename__ = "outbox"
    __table_args__ = outbox_indexes()
