"""msgspec Structs: the certification HTTP contract (kept apart from the tables)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from services.common.ids import OfficialId
from services.common.moments import check_moment
from services.common.types import AwareDatetime

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
CertificateStatus = Literal["active", "revoked", "suspended", "superseded"]
VerificationStatus = Literal["valid", "revoked", "suspended", "expired", "superseded", "invalid"]
FeedEvent = Literal["issued", "revoked", "suspended", "reinstated", "reissued"]
EventType = Literal[
    "certificate.issued",
    "certificate.revoked",
    "certificate.suspended",
    "certificate.reinstated",
    "certificate.reissued",
]
AuditAction = Literal["issue", "revoke", "suspend", "reinstate", "reissue", "supersede"]
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
    status: CertificateStatus
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
    action: AuditAction
    actor: str
    actor_roles: str
    reason: str | None
    at: datetime
    details: dict[str, Any]


class FeedItem(msgspec.Struct):
    seq: int
    event: FeedEvent
    certificate_id: uuid.UUID
    serial: str
    official_id: str
    official_name: str
    org: str
    level: int
    status: CertificateStatus
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
    status: VerificationStatus
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
    event_types: list[EventType]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    secret: str | None = None  # only in the answer to the subscription request


class WebhookData(msgspec.Struct):
    id: uuid.UUID
    serial: str
    status: CertificateStatus
    level: int
    change_seq: int
    url: str


class WebhookPayload(msgspec.Struct):
    """The body of every webhook: the event, when it happened and the certificate as it became."""

    type: EventType
    timestamp: str
    data: WebhookData


class DeliveryOut(msgspec.Struct):
    id: uuid.UUID
    webhook_id: str
    event: EventType
    payload: WebhookPayload
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    failed_at: datetime | None


class Criteria(msgspec.Struct):
    narrative: str


class AchievementOut(msgspec.Struct):
    """An Open Badges 3.0 Achievement (JSON-LD)."""

    context: list[str] = msgspec.field(name="@context")
    id: str
    type: list[str]
    achievementType: str
    name: str
    description: str
    criteria: Criteria
    inLanguage: str


class IssuerProfileOut(msgspec.Struct):
    """The Open Badges 3.0 issuer Profile (JSON-LD): what the issuer id answers, and the
    controller document of the Data Integrity keys (``assertionMethod``)."""

    context: list[str] = msgspec.field(name="@context")
    id: str
    type: list[str]
    name: str
    description: str
    url: str
    assertionMethod: list[str]


class MultikeyOut(msgspec.Struct):
    """A Data Integrity verification method: an Ed25519 public key as a Multikey."""

    context: str = msgspec.field(name="@context")
    id: str
    type: Literal["Multikey"]
    controller: str
    publicKeyMultibase: str


class Jwk(msgspec.Struct, omit_defaults=True):
    """A public signing key: OKP/Ed25519 (EdDSA) or RSA (RS256). ``kid`` is the URL that answers it."""

    kty: Literal["OKP", "RSA"]
    kid: str
    alg: Literal["EdDSA", "RS256"]
    use: Literal["sig"] = "sig"
    crv: Literal["Ed25519"] | None = None
    x: str | None = None
    n: str | None = None
    e: str | None = None


class JwkSet(msgspec.Struct):
    keys: list[Jwk]
