"""Placement tables (SQLModel). The HTTP contract lives in schemas.py, not here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from services.common.db import service_registry, timestamp, uuid7
from services.common.outbox import OutboxFields, outbox_indexes


class Base(SQLModel, registry=service_registry()):
    """Tables of this service only (its own metadata)."""


class Outbox(OutboxFields, Base, table=True):
    __tablename__ = "outbox"
    __table_args__ = outbox_indexes()


class ContentDomain(Base, table=True):
    """A content area of the item bank as the admin defines it: code, names, target share of a test.
    Publishing copies the definitions of the domains in use into the version."""

    __tablename__ = "content_domain"
    __table_args__ = (CheckConstraint("share >= 0 AND share <= 1", name="share_range"),)

    code: str = Field(max_length=64, primary_key=True)
    name_ko: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    share: float
    position: int = 0  # display and engine order
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)


class Item(Base, table=True):
    """The editable item bank. Sessions never read it: they use a published, frozen version."""

    __tablename__ = "item"
    __table_args__ = (
        CheckConstraint("a > 0", name="a_positive"),
        CheckConstraint("c >= 0 AND c < 0.5", name="c_range"),
        CheckConstraint("status IN ('active', 'pretest', 'retired')", name="status_known"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    domain: str = Field(max_length=64, index=True)
    stem: Any = Field(sa_type=JSONB)
    options: Any = Field(sa_type=JSONB)
    answer: int
    a: float
    b: float
    c: float = 0.0
    status: str = Field(default="active", max_length=16)
    calibrated: bool = False
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)


class BankVersion(Base, table=True):
    """A published, immutable snapshot of the bank. At most one is active (new sessions use it)."""

    __tablename__ = "bank_version"
    __table_args__ = (
        Index("uq_bank_version_active", "active", unique=True, postgresql_where=text("active")),
        CheckConstraint("c_prior_alpha > 0 AND c_prior_beta > 0", name="c_prior_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: uuid.UUID = Field(default_factory=uuid7, unique=True)
    content_hash: str = Field(max_length=64, unique=True)
    note: str = Field(default="", max_length=500)
    domains: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    # the definitions of those domains when published: [{"code", "name": {"ko", "en"}, "share"}]
    domain_specs: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    )
    # the Beta(alpha, beta) prior on the guessing parameter c that calibrating this bank uses (3PL)
    c_prior_alpha: float = Field(default=2.0, sa_column=Column(Float, nullable=False, server_default=text("2")))
    c_prior_beta: float = Field(default=20.0, sa_column=Column(Float, nullable=False, server_default=text("20")))
    active: bool = False
    calibrated: bool = False
    item_count: int = 0
    sessions_started: int = Field(default=0, sa_type=BigInteger)
    published_by: str = Field(default="", max_length=200)
    published_at: datetime = timestamp(now=True)


class VersionItem(Base, table=True):
    """One item as frozen in a bank version; ``idx`` is its position in the engine's arrays.
    ``administered`` is the live exposure count (the only column that changes after publishing)."""

    __tablename__ = "version_item"
    __table_args__ = (
        UniqueConstraint("version_id", "item_id"),
        # the answer path asks "which items are at or over the exposure ceiling?" on every answer
        Index("ix_version_item_exposure", "version_id", "administered"),
    )

    version_id: int = Field(
        sa_column=Column(Integer, ForeignKey("bank_version.id", ondelete="CASCADE"), primary_key=True)
    )
    idx: int = Field(primary_key=True)
    item_id: uuid.UUID = Field(foreign_key="item.id")
    code: str = Field(max_length=64)
    domain: str = Field(max_length=64)
    stem: Any = Field(sa_type=JSONB)
    options: Any = Field(sa_type=JSONB)
    answer: int
    a: float
    b: float
    c: float
    pretest: bool = False
    administered: int = Field(default=0, sa_type=BigInteger)


class DiagnosticSession(Base, table=True):
    """One diagnostic attempt. The engine state lives in the row (arrays), so an answer needs
    only this row and the cached bank version."""

    __tablename__ = "diagnostic_session"
    __table_args__ = (
        Index(
            "uq_diagnostic_session_one_active", "official_id", unique=True, postgresql_where=text("status = 'active'")
        ),
        CheckConstraint("status IN ('active', 'completed', 'expired')", name="status_known"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    official_id: str = Field(max_length=200, index=True)
    official_name: str = Field(default="", max_length=200)
    official_org: str = Field(default="", max_length=64)
    version_id: int = Field(foreign_key="bank_version.id", index=True)
    status: str = Field(default="active", max_length=16)
    config: dict[str, Any] = Field(sa_type=JSONB)
    items: list[int] = Field(default_factory=list, sa_column=Column(ARRAY(Integer), nullable=False))
    scored: list[bool] = Field(default_factory=list, sa_column=Column(ARRAY(Boolean), nullable=False))
    responses: list[int] = Field(default_factory=list, sa_column=Column(ARRAY(SmallInteger), nullable=False))
    current_idx: int | None = None
    current_pretest: bool = False
    theta: float = 0.0
    se: float = 1.0
    started_at: datetime = timestamp(now=True)
    last_activity_at: datetime = timestamp(now=True)
    ended_at: datetime | None = timestamp(default=None)


class Response(Base, table=True):
    """One answer; (session, position) is its natural key, and ``reply`` the response first sent."""

    __tablename__ = "response"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    session_id: uuid.UUID = Field(foreign_key="diagnostic_session.id")
    position: int
    version_id: int = Field(index=True)
    idx: int
    item_id: uuid.UUID = Field(index=True)
    choice: int
    correct: bool
    scored: bool
    answered_at: datetime = timestamp(now=True)
    reply: str = Field(sa_type=Text)  # the exact JSON first sent, returned again on a replay


class Result(Base, table=True):
    __tablename__ = "result"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="diagnostic_session.id", unique=True)
    official_id: str = Field(max_length=200, index=True)
    version_id: int = Field(foreign_key="bank_version.id")
    level: int
    ability: float
    standard_error: float
    level_probabilities: list[float] = Field(sa_column=Column(ARRAY(Float), nullable=False))
    domains: dict[str, Any] = Field(sa_type=JSONB)
    items: list[dict[str, Any]] = Field(sa_type=JSONB)
    length: int
    stop_reason: str = Field(max_length=32)
    completed_at: datetime = timestamp(now=True)


class RetakeGrant(Base, table=True):
    """An admin's permission for one early retake; used by the next start."""

    __tablename__ = "retake_grant"
    __table_args__ = (
        Index("uq_retake_grant_open", "official_id", unique=True, postgresql_where=text("used_at IS NULL")),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    official_id: str = Field(max_length=200)
    granted_by: str = Field(max_length=200)
    reason: str = Field(default="", max_length=500)
    granted_at: datetime = timestamp(now=True)
    used_at: datetime | None = timestamp(default=None)


class CalibrationRun(Base, table=True):
    __tablename__ = "calibration_run"
    __table_args__ = (CheckConstraint("status IN ('draft', 'published')", name="status_known"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    status: str = Field(default="draft", max_length=16)
    model: str = Field(max_length=8)
    created_by: str = Field(max_length=200)
    created_at: datetime = timestamp(now=True)
    responses: int = 0
    examinees: int = 0
    iterations: int = 0
    converged: bool = False
    items: list[dict[str, Any]] = Field(sa_type=JSONB)
    # the Beta prior on c the run used (3PL runs; null for 2PL)
    c_prior_alpha: float | None = None
    c_prior_beta: float | None = None
    published_version_id: int | None = Field(default=None, foreign_key="bank_version.id")
