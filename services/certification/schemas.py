"""msgspec Structs: the certification HTTP contract (kept apart from the tables)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from services.common.ids import OfficialId
from services.common.moments import check_moment
from services.common.types import AwareDatetime

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class Official(msgspec.Struct, forbid_unknown_fields=False):
    id: OfficialId
    # A token without a name claim gives an empty name: the certificate then names the official by id.
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    org: Annotated[str, msgspec.Meta(max_length=64)] = ""


class LevelCompleted(msgspec.Struct):
    """What progress sends when an official completes a level."""

    official: Official
    completed_at: AwareDatetime
    curriculum_version: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

    def __post_init__(self) -> None:
        check_moment(self.completed_at, "completed_at", future=True)  # progress's own date: see moments.py


class ManualIssue(msgspec.Struct):
    official: Official
    level: int
    reason: Reason
    completed_at: AwareDatetime | None = None
    curriculum_version: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "manual"

    def __post_init__(self) -> None:
        if self.completed_at is not None:
            check_moment(self.completed_at, "completed_at")


class ReasonBody(msgspec.Struct):
    reason: Reason


class ReissueBody(msgspec.Struct):
    reason: Reason
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    org: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class CertificateOut(msgspec.Struct):
    id: uuid.UUID
    serial: str
    official_id: str
    official_name: str
    org: str
    level: int
    status: str
    status_reason: str | None
    issued_at: datetime
    valid_until: datetime | None
    completed_at: datetime
    curriculum_version: str
    verify_url: str
    pdf_url: str
    supersedes_id: uuid.UUID | None
    superseded_by_id: uuid.UUID | None
    credential: str  # the VC-JWT


class AuditOut(msgspec.Struct):
    id: int
    certificate_id: uuid.UUID
    action: str
    actor: str
    actor_roles: str
    reason: str | None
    at: datetime
    details: dict[str, Any]


class FeedItem(msgspec.Struct):
    seq: int
    event: str
    certificate_id: uuid.UUID
    serial: str
    official_id: str
    official_name: str
    org: str
    level: int
    status: str
    reason: str | None
    issued_at: datetime
    changed_at: datetime
    supersedes_id: uuid.UUID | None
    url: str


class FeedPage(msgspec.Struct):
    items: list[FeedItem]
    next_cursor: str
    has_more: bool


class VerifyRequest(msgspec.Struct):
    credential: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]


class LevelName(msgspec.Struct):
    en: str
    ko: str


class VerificationOut(msgspec.Struct):
    valid: bool
    status: str  # valid | revoked | suspended | expired | superseded | invalid
    serial: str | None = None
    certificate_id: uuid.UUID | None = None
    holder_name: str | None = None
    level: int | None = None
    level_name: LevelName | None = None
    issued_at: datetime | None = None
    valid_until: datetime | None = None
    reason: str | None = None
    superseded_by: str | None = None
    verify_url: str | None = None
    kid: str | None = None
    error: str | None = None
    error_detail: str | None = None


class SubscriptionIn(msgspec.Struct):
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=2000)]
    event_types: Annotated[list[str], msgspec.Meta(min_length=1, max_length=10)]


class SubscriptionPatch(msgspec.Struct):
    enabled: bool | None = None
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=2000)] | None = None
    event_types: Annotated[list[str], msgspec.Meta(min_length=1, max_length=10)] | None = None


class SubscriptionOut(msgspec.Struct):
    id: uuid.UUID
    url: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    secret: str | None = None  # only in the answer to the subscription request


class DeliveryOut(msgspec.Struct):
    id: uuid.UUID
    webhook_id: str
    event: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    failed_at: datetime | None
