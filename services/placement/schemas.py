"""The HTTP contract (msgspec Structs), kept apart from the tables in models.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

LocalText = Annotated[
    dict[str, str],
    msgspec.Meta(
        description='The text per language: "ko" (Korean) and/or "en" (English), no other keys.',
        examples=[{"ko": "데이터란 무엇인가?", "en": "What is data?"}],
        extra_json_schema={
            "properties": {"ko": {"type": "string", "minLength": 1}, "en": {"type": "string", "minLength": 1}},
            "additionalProperties": False,
            "minProperties": 1,
        },
    ),
]
Text = str | LocalText  # a plain string, or {"ko": ..., "en": ...}
Status = Literal["active", "pretest", "retired"]
SessionStatus = Literal["active", "completed", "expired"]
CalibrationStatus = Literal["draft", "published"]
Model = Literal["2pl", "3pl"]
StopReason = Literal["sprt", "glr", "bayes", "curtailment", "max-length", "bank-exhausted"]


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    domain: str
    stem: Text
    options: list[Text]
    answer: int
    a: float
    b: float
    c: float = 0.0
    status: Status = "active"
    calibrated: bool = False


class ItemPatch(msgspec.Struct, forbid_unknown_fields=True):
    domain: str | None = None
    stem: Text | None = None
    options: list[Text] | None = None
    answer: int | None = None
    a: float | None = None
    b: float | None = None
    c: float | None = None
    status: Status | None = None
    calibrated: bool | None = None


class ItemOut(msgspec.Struct):
    """An item as admins see it: with the answer key and parameters."""

    id: uuid.UUID
    code: str
    domain: str
    stem: Text
    options: list[Text]
    answer: int
    a: float
    b: float
    c: float
    status: Status
    calibrated: bool
    created_at: datetime
    updated_at: datetime


DomainCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class DomainName(msgspec.Struct, forbid_unknown_fields=True):
    """A content area's name in Korean (``ko``) and English (``en``)."""

    ko: Name
    en: Name


class DomainIn(msgspec.Struct, forbid_unknown_fields=True):
    name: DomainName
    share: Annotated[float, msgspec.Meta(ge=0, le=1, description="Target share of a test's scored items.")]


class DomainOut(msgspec.Struct):
    code: str
    name: DomainName
    share: float
    position: int


class ImportReport(msgspec.Struct):
    created: int
    updated: int
    unchanged: int
    total: int


# a Beta(alpha, beta) prior on the guessing parameter c: two positive numbers
CPrior = Annotated[list[Annotated[float, msgspec.Meta(gt=0, le=1000)]], msgspec.Meta(min_length=2, max_length=2)]


class BankVersionOut(msgspec.Struct):
    id: uuid.UUID
    number: int
    active: bool
    calibrated: bool
    item_count: int
    domains: list[str]
    domain_specs: list[DomainOut]
    c_prior: list[float]  # the Beta(alpha, beta) prior on c that calibrating this version uses
    note: str
    sessions_started: int
    published_by: str
    published_at: datetime


class PublishIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
    c_prior: (
        Annotated[
            CPrior,
            msgspec.Meta(
                description="The Beta(alpha, beta) prior on c for calibrating this version "
                "(default: the active version's, else Beta(2, 20))."
            ),
        ]
        | None
    ) = None

    def c_prior_tuple(self) -> tuple[float, float] | None:
        return (self.c_prior[0], self.c_prior[1]) if self.c_prior else None


class ServedItem(msgspec.Struct):
    """An item as a learner sees it: never the answer key, never the parameters."""

    position: int
    item_id: uuid.UUID
    domain: str
    stem: Text
    options: list[Text]


class ResultSummary(msgspec.Struct):
    id: uuid.UUID
    level: int
    ability: float
    standard_error: float
    level_probabilities: list[float]


class SessionOut(msgspec.Struct):
    id: uuid.UUID
    status: SessionStatus
    answered: int
    started_at: datetime
    last_activity_at: datetime
    expires_at: datetime | None
    current_item: ServedItem | None = None
    result: ResultSummary | None = None


class RulesOut(msgspec.Struct):
    min_items: int
    max_items: int
    pretest_max: int
    levels: int
    session_idle_minutes: float
    retake_cooldown_days: float


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    position: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    item_id: uuid.UUID
    choice: Annotated[int, msgspec.Meta(ge=0, le=5)]


class AnswerOut(msgspec.Struct):
    session_id: uuid.UUID
    position: int
    status: SessionStatus
    answered: int
    next_item: ServedItem | None = None
    result: ResultSummary | None = None


class DomainSummary(msgspec.Struct):
    domain: str
    items: int
    correct: int


class UsedItem(msgspec.Struct, omit_defaults=True):
    position: int
    item_id: uuid.UUID
    domain: str
    scored: bool
    code: str | None = None
    correct: bool | None = None


class ResultOut(msgspec.Struct):
    id: uuid.UUID
    session_id: uuid.UUID
    official_id: str
    level: int
    ability: float
    standard_error: float
    level_probabilities: list[float]
    domains: list[DomainSummary]
    items: list[UsedItem]
    length: int
    stop_reason: StopReason
    bank_version: int
    completed_at: datetime


class GrantIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class GrantOut(msgspec.Struct):
    id: uuid.UUID
    official_id: str
    granted_by: str
    reason: str
    granted_at: datetime
    used_at: datetime | None


class ItemStat(msgspec.Struct):
    item_id: uuid.UUID
    code: str
    domain: str
    pretest: bool
    administered: int
    exposure_rate: float
    answered: int
    proportion_correct: float | None


class Distribution(msgspec.Struct):
    value: int
    count: int


class StatsOut(msgspec.Struct):
    bank_version: int
    sessions_started: int
    sessions_completed: int
    max_exposure_rate: float
    mean_length: float | None
    length_distribution: list[Distribution]
    level_distribution: list[Distribution]
    items: list[ItemStat]


class CalibrationIn(msgspec.Struct, forbid_unknown_fields=True):
    model: Model = "2pl"
    min_responses: Annotated[int, msgspec.Meta(ge=1)] = 30
    max_iterations: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100
    c_prior: (
        Annotated[
            CPrior,
            msgspec.Meta(
                description="3PL: the Beta(alpha, beta) prior on c for this run (default: the active version's)."
            ),
        ]
        | None
    ) = None

    def c_prior_tuple(self) -> tuple[float, float] | None:
        return (self.c_prior[0], self.c_prior[1]) if self.c_prior else None


class Parameters(msgspec.Struct):
    """3PL item parameters (c = 0 for 2PL)."""

    a: float
    b: float
    c: float


class CalibratedItem(msgspec.Struct):
    item_id: uuid.UUID
    code: str
    responses: int
    old: Parameters
    new: Parameters | None
    standard_errors: Parameters | None
    fit_chi2: float | None
    fit_df: int | None
    fit_p_flag: bool | None
    note: str = ""


class CalibrationOut(msgspec.Struct):
    id: uuid.UUID
    status: CalibrationStatus
    model: Model
    bank_version: int
    responses: int
    examinees: int
    iterations: int
    converged: bool
    created_by: str
    created_at: datetime
    items: list[CalibratedItem]
    published_version: int | None = None
    c_prior: list[float] | None = None  # the Beta prior on c the run used (3PL)
