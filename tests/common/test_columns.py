"""The timestamp column helpers: timestamptz, nullable exactly when the annotation is, utcnow defaults."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from services.common.db import Timestamps, service_registry, timestamp


class Base(SQLModel, registry=service_registry()):
    pass


class Thing(Timestamps, Base, table=True):
    __tablename__ = "thing"

    id: int | None = Field(default=None, primary_key=True)
    due_at: datetime = timestamp()
    ended_at: datetime | None = timestamp(default=None)
    seen_at: datetime = timestamp(now=True, index=True)


def test_columns_are_timestamptz_and_nullable_only_when_optional() -> None:
    columns = Thing.__table__.c  # type: ignore[attr-defined]
    for name in ("created_at", "updated_at", "due_at", "ended_at", "seen_at"):
        assert isinstance(columns[name].type, DateTime) and columns[name].type.timezone, name
    assert {c.name for c in columns if c.nullable} == {"ended_at"}
    assert [ix.name for ix in Thing.__table__.indexes] == ["ix_thing_seen_at"]  # type: ignore[attr-defined]


def test_now_defaults_to_an_aware_utc_moment() -> None:
    thing = Thing(due_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert thing.created_at.tzinfo is UTC and thing.updated_at.tzinfo is UTC and thing.seen_at.tzinfo is UTC
    assert thing.ended_at is None
