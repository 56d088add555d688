"""Progress tables (SQLModel). The HTTP contract lives in schemas.py, not here.

Progress is keyed by the stable module *code*, not by a curriculum version, so a republished
curriculum re-reads the same progress rows instead of breaking them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.db import service_registry, timestamp, uuid7
from services.common.idempotency import IdempotencyFields
from services.common.outbox import OutboxFields, outbox_indexes


class Base(SQLModel, registry=service_registry()):
    """Tables of this service only (its own metadata)."""


class Outbox(OutboxFields, Base, table=True):
    __tablename__ = "outbox"
    __table_args__ = outbox_indexes()


class CurriculumVersion(Base, table=True):
    """A whole programme: draft (editable), published (immutable, at most one), retired."""

    __tablename__ = "curriculum_version"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
        Index(
            "ix_curriculum_version_one_published", "status", unique=True, postgresql_where=text("status = 'published'")
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    version: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=200)
    status: str = Field(default="draft", max_length=16)
    definition: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)
    published_at: datetime | None = timestamp(default=None)
    retired_at: datetime | None = timestamp(default=None)


class Official(Base, table=True):
    """An official's learning path: placed level and current level (5 = every level done)."""

    __tablename__ = "official"
    __table_args__ = (
        CheckConstraint("placed_level BETWEEN 0 AND 4", name="placed_level"),
        CheckConstraint("current_level BETWEEN 0 AND 5", name="current_level"),
        Index("ix_official_org_levels", "org", "placed_level", "current_level"),
    )

    id: str = Field(primary_key=True, max_length=128)
    name: str = Field(default="", max_length=200)
    org: str = Field(default="", max_length=64)
    placed_level: int
    current_level: int
    placement_result_id: str = Field(max_length=128)
    placement_completed_at: datetime = timestamp()
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)


class PlacementResult(Base, table=True):
    """Every placement result received, idempotent on its id; ``response`` is replayed verbatim."""

    __tablename__ = "placement_result"
    __table_args__ = (Index("ix_placement_result_official", "official_id"),)

    result_id: str = Field(primary_key=True, max_length=128)
    official_id: str = Field(max_length=128)
    level: int
    ability: float
    standard_error: float
    completed_at: datetime = timestamp()
    content_hash: str = Field(max_length=64)
    applied: bool
    response: dict[str, Any] = Field(sa_type=JSONB)
    received_at: datetime = timestamp(now=True)


class LevelCompletion(Base, table=True):
    """A completed level; the certificate id and serial arrive later from certification."""

    __tablename__ = "level_completion"
    __table_args__ = (
        CheckConstraint("level BETWEEN 0 AND 4", name="level"),
        Index("ix_level_completion_review", "official_id", postgresql_where=text("needs_review")),
    )

    official_id: str = Field(primary_key=True, max_length=128)
    level: int = Field(primary_key=True)
    completed_at: datetime = timestamp()
    recorded_at: datetime = timestamp(now=True)
    curriculum_version: str = Field(max_length=64)
    certificate_id: uuid.UUID | None = Field(default=None, nullable=True)
    certificate_serial: str | None = Field(default=None, max_length=64, nullable=True)
    certificate_recorded_at: datetime | None = timestamp(default=None)
    needs_review: bool = Field(default=False)
    review_reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    flagged_at: datetime | None = timestamp(default=None)


class Waiver(Base, table=True):
    __tablename__ = "waiver"

    official_id: str = Field(primary_key=True, max_length=128)
    level: int = Field(primary_key=True)
    target: str = Field(primary_key=True, max_length=200)
    reason: str = Field(sa_type=Text)
    created_by: str = Field(max_length=128)
    created_at: datetime = timestamp(now=True)


class CohortSession(Base, table=True):
    """A cohort session; ``enrolled_count`` is kept under the session row lock and checked by
    the database (never more than ``seats``)."""

    __tablename__ = "cohort_session"
    __table_args__ = (
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("enrolled_count >= 0 AND enrolled_count <= seats", name="not_overbooked"),
        CheckConstraint("waitlisted_count >= 0", name="waitlisted_count"),
        CheckConstraint("level BETWEEN 0 AND 4", name="level"),
        CheckConstraint("starts_on <= ends_on", name="dates"),
        Index("ix_cohort_session_level_starts", "level", "starts_on"),
        Index("ix_cohort_session_instructor", "instructor_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    level: int
    title: str = Field(max_length=200)
    place: str = Field(default="", max_length=200)
    instructor_id: str | None = Field(default=None, max_length=128, nullable=True)
    seats: int
    waitlist_limit: int | None = Field(default=None, nullable=True)
    enrolment_open: bool = Field(default=True)
    days: list[date] = Field(sa_column=Column(ARRAY(Date), nullable=False))
    starts_on: date
    ends_on: date
    enrolled_count: int = Field(default=0)
    waitlisted_count: int = Field(default=0)
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)


class Enrolment(Base, table=True):
    __tablename__ = "enrolment"
    __table_args__ = (
        CheckConstraint("status IN ('enrolled', 'waitlisted', 'withdrawn')", name="status"),
        Index(
            "ix_enrolment_one_active_per_level",
            "official_id",
            "level",
            unique=True,
            postgresql_where=text("status IN ('enrolled', 'waitlisted')"),
        ),
        Index("ix_enrolment_session_status_seq", "session_id", "status", "seq"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), nullable=False, unique=True))
    session_id: uuid.UUID = Field(sa_column=Column(ForeignKey("cohort_session.id"), nullable=False))
    official_id: str = Field(max_length=128, index=True)
    level: int
    status: str = Field(max_length=16)
    override_reason: str | None = Field(default=None, sa_type=Text, nullable=True)
    created_by: str = Field(max_length=128)
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)
    promoted_at: datetime | None = timestamp(default=None)
    withdrawn_at: datetime | None = timestamp(default=None)


class IdempotencyRecord(IdempotencyFields, Base, table=True):
    """The first answer to a request carrying an ``Idempotency-Key`` (per caller)."""

    __tablename__ = "idempotency_record"


class AttendanceRecord(Base, table=True):
    __tablename__ = "attendance"
    __table_args__ = (
        CheckConstraint("status IN ('present', 'late', 'excused', 'absent')", name="status"),
        Index("ix_attendance_official", "official_id"),
    )

    session_id: uuid.UUID = Field(sa_column=Column(ForeignKey("cohort_session.id"), primary_key=True, nullable=False))
    official_id: str = Field(primary_key=True, max_length=128)
    day: date = Field(primary_key=True)
    status: str = Field(max_length=16)
    recorded_by: str = Field(max_length=128)
    recorded_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)
    revision: int = Field(default=1)


class AttendanceAudit(Base, table=True):
    """Every change to an attendance mark: who, when, from what, to what, and why."""

    __tablename__ = "attendance_audit"
    __table_args__ = (Index("ix_attendance_audit_session_day", "session_id", "day"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    session_id: uuid.UUID
    official_id: str = Field(max_length=128)
    day: date
    old_status: str | None = Field(default=None, max_length=16, nullable=True)
    new_status: str = Field(max_length=16)
    changed_by: str = Field(max_length=128)
    changed_at: datetime = timestamp(now=True)
    reason: str | None = Field(default=None, sa_type=Text, nullable=True)


class LearningEvent(Base, table=True):
    """Every learning event as received (the source of truth recomputation replays)."""

    __tablename__ = "learning_event"
    __table_args__ = (
        CheckConstraint("verb IN ('started', 'completed', 'passed', 'failed', 'attended')", name="verb"),
        Index("ix_learning_event_official_module", "official_id", "module_code"),
    )

    event_id: str = Field(primary_key=True, max_length=128)
    official_id: str = Field(max_length=128)
    module_code: str = Field(max_length=64)
    verb: str = Field(max_length=16)
    score: float | None = Field(default=None, sa_type=Float, nullable=True)
    occurred_at: datetime = timestamp()
    content_hash: str = Field(max_length=32)
    source: str = Field(default="api", max_length=16)
    voided_at: datetime | None = timestamp(default=None)
    received_at: datetime = timestamp(now=True)


class ModuleProgressRow(Base, table=True):
    """One row per (official, module), merged forward only: earliest times, best score."""

    __tablename__ = "module_progress"

    official_id: str = Field(primary_key=True, max_length=128)
    module_code: str = Field(primary_key=True, max_length=64)
    started_at: datetime | None = timestamp(default=None)
    completed_at: datetime | None = timestamp(default=None)
    passed_at: datetime | None = timestamp(default=None)
    best_score: float | None = Field(default=None, sa_type=Float, nullable=True)
    attended_at: datetime | None = timestamp(default=None)
    best_pass_score: float | None = Field(default=None, sa_type=Float, nullable=True)
    event_count: int = Field(default=0, sa_type=Integer)
    updated_at: datetime = timestamp(now=True)


class RecomputeJob(Base, table=True):
    """Re-evaluation of every official after a curriculum is published, worked through in chunks
    by any replica (the job row is claimed with ``FOR UPDATE SKIP LOCKED``; ``after_official`` is
    the keyset cursor), so a national population never sits in one request or one transaction."""

    __tablename__ = "recompute_job"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done')", name="status"),
        Index("ix_recompute_job_pending", "created_at", postgresql_where=text("status = 'pending'")),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    curriculum_id: uuid.UUID
    status: str = Field(default="pending", max_length=16)
    after_official: str = Field(default="", max_length=128)
    officials: int = Field(default=0)
    levels_completed: int = Field(default=0)
    flagged: int = Field(default=0)
    note: str | None = Field(default=None, sa_type=Text, nullable=True)
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)
    finished_at: datetime | None = timestamp(default=None)


# --- xAPI Learning Record Store ---------------------------------------------------------------
# Statements, the documents of the State, Activity Profile and Agent Profile resources, the
# canonical activity definitions and attachment contents. Filters match ``keys`` (see
# ``domain/xapi/statements.filter_keys``) through one GIN index; pages are ordered by
# (stored, seq), and the activity filters walk ``xapi_statement_activity`` in that order.


class XapiStatement(Base, table=True):
    __tablename__ = "xapi_statement"
    __table_args__ = (
        Index("ix_xapi_statement_stored", "stored", "seq"),
        # fastupdate off: each insert updates the index at once, so reads never scan a long pending list
        Index("ix_xapi_statement_keys", "keys", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
    )

    id: uuid.UUID = Field(primary_key=True)
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), nullable=False, unique=True))
    stored: datetime = timestamp()
    timestamp: datetime = timestamp()
    official_id: str | None = Field(default=None, max_length=128, nullable=True)  # an official's account actor
    verb_id: str = Field(sa_type=Text)
    keys: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"))
    statement: dict[str, Any] = Field(sa_type=JSONB)
    content_hash: str = Field(max_length=64)
    voided: bool = Field(default=False)
    voids: uuid.UUID | None = Field(default=None, nullable=True)


class XapiStatementActivity(Base, table=True):
    """One row per activity a statement's ``related_activities`` filter matches (its ``ractivity:``
    keys), ``direct`` when the plain ``activity`` filter matches it too. ``activity`` is a 64-bit
    hash of the IRI (``store.xapi_statements.ACTIVITY_HASH``; a collision only costs a recheck of
    ``keys``), so a filter on one activity walks the primary key in page order and stops at the
    page's end instead of reading every statement about the activity."""

    __tablename__ = "xapi_statement_activity"

    activity: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    stored: datetime = timestamp(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    direct: bool


class XapiDocument(Base, table=True):
    """A State (activity, agent, optional registration), Activity Profile (activity) or Agent
    Profile (agent) document; unused scope parts are empty strings so the key is one primary key."""

    __tablename__ = "xapi_document"
    __table_args__ = (CheckConstraint("kind IN ('state', 'activity_profile', 'agent_profile')", name="kind"),)

    kind: str = Field(primary_key=True, max_length=16)
    activity_id: str = Field(primary_key=True, sa_type=Text)
    agent: str = Field(primary_key=True, sa_type=Text)
    registration: str = Field(primary_key=True, max_length=36)
    doc_id: str = Field(primary_key=True, sa_type=Text)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_type: str = Field(sa_type=Text)
    etag: str = Field(max_length=64)
    updated: datetime = timestamp()


class XapiActivity(Base, table=True):
    """The canonical definition of an activity, merged from the statements that carry it."""

    __tablename__ = "xapi_activity"

    id: str = Field(primary_key=True, sa_type=Text)
    definition: dict[str, Any] = Field(sa_type=JSONB)


class XapiAttachment(Base, table=True):
    """Attachment contents by SHA-2, shared by every statement that names the same hash."""

    __tablename__ = "xapi_attachment"

    sha2: str = Field(primary_key=True, max_length=128)
    content_type: str = Field(sa_type=Text)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
