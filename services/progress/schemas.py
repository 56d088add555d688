"""msgspec Structs: the HTTP contract of the progress service (kept apart from the tables)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from services.common.ids import OfficialId
from services.common.moments import check_moment
from services.common.types import AwareDatetime

Level = Annotated[int, Meta(ge=0, le=4)]
Code = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Text200 = Annotated[str, Meta(max_length=200)]
RuleName = Literal["completed", "passed", "completed_and_passed", "attended"]
CurriculumStatus = Literal["draft", "published", "retired"]
JobStatus = Literal["pending", "done"]
EnrolmentStatus = Literal["enrolled", "waitlisted", "withdrawn"]


# --- curriculum -------------------------------------------------------------------------------


class ModuleIn(Struct, forbid_unknown_fields=True):
    code: Code
    title_ko: Text200
    title_en: Text200
    rule: RuleName = "completed"
    required: bool = True
    weight: Annotated[float, Meta(gt=0, le=100)] = 1.0
    order: int = 0
    prerequisites: list[Code] = field(default_factory=list)
    min_score: Annotated[float, Meta(ge=0, le=100)] | None = None
    final: bool = False


class CourseIn(Struct, forbid_unknown_fields=True):
    code: Code
    title_ko: Text200
    title_en: Text200
    modules: Annotated[list[ModuleIn], Meta(min_length=1)]
    order: int = 0


class LevelIn(Struct, forbid_unknown_fields=True):
    level: Level
    title_ko: Text200
    title_en: Text200
    duration_days: Annotated[int, Meta(ge=1, le=60)]
    seats_per_session: Annotated[int, Meta(ge=1, le=1000)]
    courses: Annotated[list[CourseIn], Meta(min_length=1)]
    attendance_threshold: Annotated[float, Meta(ge=0, le=1)] | None = 0.8


class CurriculumIn(Struct, forbid_unknown_fields=True):
    version: Annotated[str, Meta(min_length=1, max_length=64)]
    title: Text200
    levels: Annotated[list[LevelIn], Meta(min_length=5, max_length=5)]


class CurriculumOut(Struct):
    id: uuid.UUID
    version: str
    title: str
    status: CurriculumStatus
    levels: list[LevelIn]
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None


class CurriculumSummary(Struct):
    id: uuid.UUID
    version: str
    title: str
    status: CurriculumStatus
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None


class RecomputeJobOut(Struct):
    id: uuid.UUID
    curriculum_id: uuid.UUID
    status: JobStatus
    officials: int
    levels_completed: int
    flagged: int
    note: str | None
    created_at: datetime
    finished_at: datetime | None


class PublishOut(Struct):
    curriculum: CurriculumSummary
    recompute_job: RecomputeJobOut | None


# --- placement intake -------------------------------------------------------------------------


class OfficialIn(Struct):
    id: OfficialId
    name: Annotated[str, Meta(max_length=200)] = ""
    org: Annotated[str, Meta(max_length=64)] = ""


class PlacementIn(Struct, forbid_unknown_fields=False):
    official: OfficialIn
    level: Level
    ability: float
    standard_error: Annotated[float, Meta(ge=0)]
    completed_at: AwareDatetime

    def __post_init__(self) -> None:
        check_moment(self.completed_at, "completed_at")


class PlacementOut(Struct):
    """What became of a placement result: ``applied`` false when it was recorded only."""

    result_id: str
    official_id: str
    level: int
    applied: bool
    placed_level: int
    current_level: int | None  # None once every level is complete
    detail: str


# --- sessions and enrolments ------------------------------------------------------------------


class SessionIn(Struct, forbid_unknown_fields=True):
    level: Level
    title: Text200
    days: Annotated[list[date], Meta(min_length=1, max_length=60)]
    seats: Annotated[int, Meta(ge=1, le=1000)]
    place: Text200 = ""
    instructor_id: Annotated[str, Meta(max_length=128)] | None = None
    waitlist_limit: Annotated[int, Meta(ge=0, le=10000)] | None = None
    enrolment_open: bool = True


class SessionPatch(Struct, forbid_unknown_fields=True):
    title: Text200 | None = None
    place: Text200 | None = None
    instructor_id: Annotated[str, Meta(max_length=128)] | None = None
    seats: Annotated[int, Meta(ge=1, le=1000)] | None = None
    waitlist_limit: Annotated[int, Meta(ge=0, le=10000)] | None = None
    enrolment_open: bool | None = None


class SessionOut(Struct):
    id: uuid.UUID
    level: int
    title: str
    place: str
    instructor_id: str | None
    seats: int
    enrolled: int
    waitlisted: int
    free_seats: int
    waitlist_limit: int | None
    enrolment_open: bool
    days: list[date]
    starts_on: date
    ends_on: date


class EnrolIn(Struct, forbid_unknown_fields=True):
    official_id: OfficialId | None = None
    override_reason: Annotated[str, Meta(min_length=3, max_length=500)] | None = None


class EnrolmentOut(Struct):
    id: uuid.UUID
    session_id: uuid.UUID
    official_id: str
    level: int
    status: EnrolmentStatus
    seq: int
    waitlist_position: int | None
    created_at: datetime
    promoted_at: datetime | None = None
    withdrawn_at: datetime | None = None
    override_reason: str | None = None


class WithdrawOut(Struct):
    enrolment: EnrolmentOut
    promoted: EnrolmentOut | None


# --- attendance -------------------------------------------------------------------------------

AttendanceStatus = Literal["present", "late", "excused", "absent"]


class AttendanceMark(Struct, forbid_unknown_fields=True):
    official_id: OfficialId
    status: AttendanceStatus


class RosterIn(Struct, forbid_unknown_fields=True):
    records: Annotated[list[AttendanceMark], Meta(min_length=1, max_length=1000)]
    reason: Annotated[str, Meta(max_length=500)] | None = None


class AttendanceOut(Struct):
    official_id: str
    day: date
    status: AttendanceStatus
    recorded_by: str
    updated_at: datetime
    revision: int


class RosterOut(Struct):
    session_id: uuid.UUID
    day: date
    records: list[AttendanceOut]
    changed: int


class AuditOut(Struct):
    official_id: str
    day: date
    old_status: AttendanceStatus | None
    new_status: AttendanceStatus
    changed_by: str
    changed_at: datetime
    reason: str | None


# --- learning events --------------------------------------------------------------------------

VerbName = Literal["started", "completed", "passed", "failed", "attended"]


class EventIn(Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=128)]
    official_id: OfficialId
    module: Code
    verb: VerbName
    occurred_at: datetime
    score: Annotated[float, Meta(ge=0, le=100)] | None = None

    def __post_init__(self) -> None:
        check_moment(self.occurred_at, "occurred_at")


class EventBatch(Struct, forbid_unknown_fields=True):
    events: Annotated[list[EventIn], Meta(min_length=1, max_length=1000)]


class LevelDone(Struct):
    official_id: str
    level: int
    completed_at: datetime


class BatchOut(Struct):
    accepted: int
    duplicates: int
    completed_levels: list[LevelDone]


class WaiverIn(Struct, forbid_unknown_fields=True):
    level: Level
    target: Annotated[str, Meta(pattern=r"^(attendance|final|module:[A-Za-z0-9][A-Za-z0-9_.:-]*)$")]
    reason: Annotated[str, Meta(min_length=3, max_length=1000)]


class VoidOut(Struct):
    event_id: str
    voided: bool
    flagged: int  # completed levels flagged for review by the recomputation


class RecomputeOut(Struct):
    official_id: str
    levels_completed: int
    flagged: int


class ReviewResolvedOut(Struct):
    official_id: str
    level: int
    needs_review: bool


class ReviewOut(Struct):
    official_id: str
    level: int
    completed_at: datetime
    curriculum_version: str
    certificate_serial: str | None
    review_reason: str | None
    flagged_at: datetime | None


class WaiverOut(Struct):
    official_id: str
    level: int
    target: str
    reason: str
    created_by: str
    created_at: datetime


# --- dashboard --------------------------------------------------------------------------------


class ModuleStatus(Struct):
    code: str
    title_ko: str
    title_en: str
    required: bool
    rule: RuleName
    met: bool
    best_score: float | None


class Certificate(Struct):
    level: int
    completed_at: datetime
    curriculum_version: str
    certificate_id: uuid.UUID | None
    serial: str | None
    status: Literal["requested", "issued"]


class LevelStatus(Struct):
    level: int
    title_ko: str
    title_en: str
    status: Literal["placed_out", "completed", "current", "locked"]
    percent_complete: float
    completed_at: datetime | None = None
    modules: list[ModuleStatus] | None = None
    attendance_rate: float | None = None
    missing: list[str] | None = None
    needs_review: bool = False


class NextStep(Struct):
    kind: Literal["module", "session", "enrolled", "attendance", "done", "wait"]
    detail: str
    module: str | None = None
    session_id: uuid.UUID | None = None
    starts_on: date | None = None


class UpcomingDay(Struct):
    session_id: uuid.UUID
    day: date
    title: str
    place: str


class DashboardOut(Struct):
    official_id: str
    name: str
    org: str
    placed_level: int
    current_level: int | None
    path_percent_complete: float
    curriculum_version: str | None
    levels: list[LevelStatus]
    next_step: NextStep
    enrolments: list[EnrolmentOut]
    upcoming_days: list[UpcomingDay]
    certificates: list[Certificate]


# --- reports ----------------------------------------------------------------------------------


class CapacityRow(Struct, omit_defaults=True):
    level: int
    seats: int
    enrolled: int
    waitlisted: int
    fill_rate: float | None
    focus: str | None = None
    duration_days: int | None = None
    seats_per_session: int | None = None
    sessions: int | None = None
    session_id: str | None = None
    title: str | None = None
    starts_on: str | None = None
    instructor_id: str | None = None


class CompletionRow(Struct, omit_defaults=True):
    level: int
    placed: int
    reached: int
    in_progress: int
    enrolled: int
    completed: int
    completion_rate: float | None
    org: str | None = None


class AttendanceRow(Struct, omit_defaults=True):
    level: int
    sessions: int
    marks: int
    present: int
    late: int
    excused: int
    absent: int
    attendance_rate: float | None
    session_id: str | None = None
    title: str | None = None
    starts_on: str | None = None


class CapacityReport(Struct):
    report: Literal["capacity-by-level", "capacity-by-session"]
    columns: list[str]
    rows: list[CapacityRow]


class CompletionReport(Struct):
    report: Literal["completion-by-level", "completion-by-org"]
    columns: list[str]
    rows: list[CompletionRow]


class AttendanceReport(Struct):
    report: Literal["attendance-by-level", "attendance-by-session"]
    columns: list[str]
    rows: list[AttendanceRow]


# --- xAPI (Learning Record Store) ----------------------------------------------------------------
# Statements are xAPI JSON: their nested objects (agents, verbs, activities, results, contexts)
# are validated by domain/xapi/validate.py and kept exactly, so they are typed as JSON objects here.
JsonObject = dict[str, object]


class XapiAbout(Struct):
    version: list[str]


class XapiStatement(Struct, kw_only=True):
    id: str
    actor: JsonObject
    verb: JsonObject
    object: JsonObject
    timestamp: str
    stored: str
    authority: JsonObject
    version: str
    result: JsonObject | None = None
    context: JsonObject | None = None
    attachments: list[JsonObject] | None = None


class XapiStatementResult(Struct):
    statements: list[XapiStatement]
    more: str


class XapiActivity(Struct, kw_only=True):
    objectType: Literal["Activity"]
    id: str
    definition: JsonObject | None = None


class XapiPerson(Struct, kw_only=True, omit_defaults=True):
    objectType: Literal["Person"]
    name: list[str] | None = None
    mbox: list[str] | None = None
    mbox_sha1sum: list[str] | None = None
    openid: list[str] | None = None
    account: list[dict[str, str]] | None = None
