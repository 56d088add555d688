"""Certification tables (SQLModel). The HTTP contract lives in schemas.py, not here."""

from __future__ import annotations

from services.common.db import make_base
from services.common.outbox import OutboxFields, outbox_indexes

Base = make_base()


class Outbox(OutboxFields, Base, table=True):  # type: ignore[call-arg]
    __tablename__ = "outbox"
    __table_args__ = outbox_indexes()
