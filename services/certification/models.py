"""Certification tables (SQLModel). The HTTP contract lives in schemas.py, not here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.db import service_registry, timestamp, uuid7
from services.common.outbox import OutboxFields, outbox_indexes


class Base(SQLModel, registry=service_registry()):
    """Tables of this service only (its own metadata)."""


STATUSES = ("active", "revoked", "suspended", "superseded")
EVENTS = ("issued", "revoked", "suspended", "reinstated", "reissued")


class Outbox(OutboxFields, Base, table=True):
    __tablename__ = "outbox"
    __table_args__ = outbox_indexes()


class Certificate(Base, table=True):
    """One certificate. At most one current (not superseded) certificate per official and level."""

    __tablename__ = "certificate"
    __table_args__ = (
        UniqueConstraint("status_list", "status_index"),
        CheckConstraint("level BETWEEN 0 AND 4", name="level_range"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        Index(
            "ux_certificate_current_award",
            "official_id",
            "level",
            unique=True,
            postgresql_where=text("superseded_by_id IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    serial: str = Field(max_length=64, unique=True)
    serial_no: int = Field(sa_type=BigInteger, unique=True)
    official_id: str = Field(max_length=128)
    official_name: str = Field(max_length=200)
    org: str = Field(max_length=64)
    level: int = Field(sa_type=SmallInteger)
    curriculum_version: str = Field(max_length=64)
    completed_at: datetime = timestamp()
    issued_at: datetime = timestamp()
    valid_until: datetime | None = timestamp(default=None)
    status: str = Field(default="active", max_length=16)
    status_reason: str | None = Field(default=None, sa_type=Text)
    status_changed_at: datetime | None = timestamp(default=None)
    status_list: int = Field()
    status_index: int = Field()
    supersedes_id: uuid.UUID | None = Field(default=None)
    superseded_by_id: uuid.UUID | None = Field(default=None)
    origin: str = Field(max_length=16)
    kid: str = Field(max_length=64)
    vc_jwt: str = Field(sa_type=Text)
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)


class Change(Base, table=True):
    """The HR feed: one row per issue/revoke/suspend/reinstate/re-issue, with a snapshot of the record.

    Each row carries the 64-bit id of the transaction that wrote it (``pg_current_xact_id()``). The
    feed is ordered by (xid, seq) and only serves rows whose transaction is older than the oldest
    one still running (``pg_snapshot_xmin``): every row that can still appear sorts after every row
    already served, so a reader never skips a change that commits late, and writers never wait for
    each other."""

    __tablename__ = "change"
    __table_args__ = (
        CheckConstraint(f"event IN {EVENTS!r}", name="event_known"),
        Index("ix_change_xid_seq", "xid", "seq"),
        Index("ix_change_org_xid_seq", "org", "xid", "seq"),
        Index("ix_change_certificate_id", "certificate_id"),
    )

    seq: int | None = Field(default=None, sa_type=BigInteger, sa_column_args=[Identity()], primary_key=True)
    # pg_current_xact_id() as bigint (xid8 fits: epoch << 32 | xid).
    xid: int = Field(sa_type=BigInteger)
    event: str = Field(max_length=16)
    certificate_id: uuid.UUID = Field()
    serial: str = Field(max_length=64)
    official_id: str = Field(max_length=128)
    official_name: str = Field(max_length=200)
    org: str = Field(max_length=64)
    level: int = Field(sa_type=SmallInteger)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, sa_type=Text)
    issued_at: datetime = timestamp()
    changed_at: datetime = timestamp(now=True)
    supersedes_id: uuid.UUID | None = Field(default=None)


class Audit(Base, table=True):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_certificate_id_at", "certificate_id", "at"),)

    id: int | None = Field(default=None, sa_type=BigInteger, sa_column_args=[Identity()], primary_key=True)
    certificate_id: uuid.UUID = Field()
    action: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    actor_roles: str = Field(default="", max_length=128)
    reason: str | None = Field(default=None, sa_type=Text)
    at: datetime = timestamp(now=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)


class SigningKey(Base, table=True):
    """An Ed25519 credential-signing key; the newest signs, all stay published."""

    __tablename__ = "signing_key"

    kid: str = Field(max_length=64, primary_key=True)
    public_jwk: dict[str, Any] = Field(sa_type=JSONB)
    # PKCS#8 PEM encrypted with the key passphrase (never stored in plain text).
    private_pkcs8: str = Field(sa_type=Text)
    created_at: datetime = timestamp(now=True, index=True)


class StatusList(Base, table=True):
    """A version counter per status list: bumped on every bit change so every replica's cache can
    tell when it is stale."""

    __tablename__ = "status_list"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = timestamp(now=True)


class WebhookSubscription(Base, table=True):
    """One subscriber URL per owner (subscribing it again answers the existing subscription)."""

    __tablename__ = "webhook_subscription"
    __table_args__ = (UniqueConstraint("owner", "url"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    owner: str = Field(max_length=128, index=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_type=JSONB)
    secret: str = Field(max_length=128)
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, sa_type=Text)
    disabled_at: datetime | None = timestamp(default=None)
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)


class WebhookDelivery(Base, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
        Index("ix_webhook_delivery_subscription_id_created_at", "subscription_id", "created_at"),
        # The claim's order rule: is an earlier change of this certificate still undelivered here?
        Index(
            "ix_webhook_delivery_undelivered_order",
            "subscription_id",
            "certificate_id",
            "change_seq",
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    subscription_id: uuid.UUID = Field(sa_column_args=[ForeignKey("webhook_subscription.id", ondelete="CASCADE")])
    event: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = timestamp(now=True)
    next_attempt_at: datetime = timestamp(now=True)
    # The retry horizon is measured from here: creation, or the last manual redelivery/re-enable.
    retry_from: datetime = timestamp(now=True)
    attempts: int = Field(default=0)
    last_status: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=Text)
    delivered_at: datetime | None = timestamp(default=None)
    failed_at: datetime | None = timestamp(default=None)
    # The change this delivery carries (the feed's seq: causal order per certificate).
    certificate_id: uuid.UUID = Field()
    change_seq: int = Field(sa_type=BigInteger)
