"""The pure rules of enrolment, attendance, intake, event batches, curricula, the path, the
dashboard and reports, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import msgspec
import pytest

from services.common.errors import Problem
from services.progress.domain import attendance, dashboard, enrolment, events, intake, reports
from services.progress.domain.completion import Attendance, ModuleProgress
from services.progress.domain.curriculum import parse_curriculum, validate
from services.progress.domain.path import Completion, OfficialState, advance, certificate_path, might_complete
from services.progress.schemas import AttendanceMark, CurriculumIn, EnrolmentOut, EventIn
from services.progress.seed import programme

T1 = datetime(2026, 4, 1, 9, tzinfo=UTC)
TODAY = date(2026, 4, 10)
SPEC = msgspec.convert(programme(), CurriculumIn)
CURRICULUM = parse_curriculum(uuid.uuid4(), SPEC.version, SPEC)


def slug(call: object) -> str:
    with pytest.raises(Problem) as info:
        call()  # type: ignore[operator]
    return info.value.slug


def seats(**kw: object) -> enrolment.SessionSeats:
    base = {
        "level": 1,
        "seats": 2,
        "enrolled": 0,
        "waitlisted": 0,
        "waitlist_limit": None,
        "enrolment_open": True,
        "starts_on": date(2026, 5, 1),
    }
    return enrolment.SessionSeats(**{**base, **kw})  # type: ignore[arg-type]


def test_enrolment_decisions() -> None:
    me = enrolment.request_for("a", False, None, None)
    assert me == enrolment.Request("a", None)
    assert slug(lambda: enrolment.request_for("a", False, "b", None)) == "forbidden"
    assert slug(lambda: enrolment.request_for("a", False, None, "because")) == "forbidden"
    admin = enrolment.request_for("root", True, "b", "late registration")
    assert enrolment.decide(me, seats(), 1, None, TODAY) == "enrolled"
    assert enrolment.decide(me, seats(enrolled=2), 1, None, TODAY) == "waitlisted"
    assert slug(lambda: enrolment.decide(me, seats(enrolled=2, waitlist_limit=0), 1, None, TODAY)) == "session-full"
    assert slug(lambda: enrolment.decide(me, seats(starts_on=date(2026, 4, 9)), 1, None, TODAY)) == "session-started"
    assert enrolment.decide(me, seats(starts_on=TODAY), 1, None, TODAY) == "enrolled"  # the first day is fine
    assert slug(lambda: enrolment.decide(me, seats(), None, None, TODAY)) == "no-learning-path"
    assert slug(lambda: enrolment.decide(me, seats(), 2, None, TODAY)) == "not-current-level"
    assert slug(lambda: enrolment.decide(me, seats(enrolment_open=False), 1, None, TODAY)) == "enrolment-closed"
    active = enrolment.Active(uuid.uuid4(), uuid.uuid4(), "waitlisted")
    assert slug(lambda: enrolment.decide(me, seats(), 1, active, TODAY)) == "already-enrolled"
    # an admin's override passes the level and start rules, not the seat count
    assert enrolment.decide(admin, seats(starts_on=date(2026, 4, 9)), 3, None, TODAY) == "enrolled"
    assert enrolment.decide(admin, seats(), None, None, TODAY) == "enrolled"
    assert slug(lambda: enrolment.seats_floor(3, 2)) == "seats-below-enrolled"
    enrolment.seats_floor(3, None)


def test_attendance_rules() -> None:
    marks = [AttendanceMark("a", "present"), AttendanceMark("b", "late")]
    assert slug(lambda: attendance.refuse_duplicates([*marks, AttendanceMark("a", "absent")])) == "duplicate-officials"
    days = [date(2026, 4, 1), date(2026, 4, 2)]
    assert slug(lambda: attendance.check_day(date(2026, 4, 3), days, TODAY)) == "day-outside-session"
    assert slug(lambda: attendance.check_day(date(2026, 4, 2), days, date(2026, 4, 1))) == "day-in-future"
    assert slug(lambda: attendance.refuse_strangers(marks, {"a"})) == "not-enrolled"
    assert attendance.changes(marks, {"a": "present"}, None) == [marks[1]]
    assert slug(lambda: attendance.changes(marks, {"a": "absent"}, " ")) == "reason-required"
    assert attendance.changes(marks, {"a": "absent"}, "sick note") == marks


def test_intake_rules() -> None:
    assert intake.stale(T1, T1) is not None and not intake.stale(T1, T1).applied  # type: ignore[union-attr]
    assert intake.stale(datetime(2026, 4, 2, tzinfo=UTC), T1) is None
    assert not intake.replace_path(1, {0, 2}).applied
    assert intake.replace_path(2, {0, 2}).applied
    assert intake.current_level(1, {1, 2, 4}) == 3
    assert intake.current_level(4, {4}) == 5


def event(i: int, official: str = "a", module: str = "L0-M1", verb: str = "completed", **kw: object) -> EventIn:
    return EventIn(id=f"e{i}", official_id=official, module=module, verb=verb, occurred_at=T1, **kw)  # type: ignore[arg-type]


def test_event_batch_rules() -> None:
    assert slug(lambda: events.refuse_duplicate_ids([event(1), event(1)])) == "duplicate-event-ids"
    batch = [
        event(0),
        event(1, official="b"),
        event(2, verb="passed", score=80),
        event(3, module="NOPE"),
        event(4, verb="started", score=1),
    ]
    problems = events.batch_problems(
        batch, learner="a", modules=CURRICULUM.modules, version=CURRICULUM.version, taught=None
    )
    assert [p["index"] for p in problems] == [1, 2, 3, 4]
    taught = events.batch_problems(batch[:2], learner=None, modules=CURRICULUM.modules, version="v", taught={("a", 0)})
    assert [p["index"] for p in taught] == [1]
    hashes = [events.event_hash(e) for e in batch]
    assert events.event_hash(event(0)) == hashes[0] != hashes[1]
    assert slug(lambda: events.refuse_conflicts(batch, hashes, {"e0": "other"})) == "event-conflict"
    events.refuse_conflicts(batch, hashes, {"e0": hashes[0]})


def test_curriculum_validation_lists_every_problem() -> None:
    validate(SPEC)
    broken = msgspec.convert(programme(), CurriculumIn)
    module = broken.levels[0].courses[0].modules[0]
    module.min_score = 50.0  # a "completed" module takes no min_score
    module.prerequisites = ["MISSING"]
    broken.levels[1].courses[0].modules[0].code = module.code  # a code used twice
    with pytest.raises(Problem) as info:
        validate(broken)
    messages = " ".join(e["message"] for e in info.value.errors or [])
    assert "takes no min_score" in messages and "used twice" in messages


def state(**kw: object) -> OfficialState:
    return OfficialState(**{"id": "a", "name": "A", "org": "ORG", "placed_level": 0, "current_level": 0, **kw})  # type: ignore[arg-type]


def level_zero_done() -> dict[str, ModuleProgress]:
    return {
        m.code: ModuleProgress(completed_at=T1, passed_at=T1, best_score=100, best_pass_score=100, attended_at=T1)
        for m in CURRICULUM.levels[0].modules
    }


def test_advance_completes_levels_in_order_and_flags_never_revokes() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert advance(CURRICULUM, state(), now).completed == []
    s = state(progress=level_zero_done(), attendance={0: Attendance(1, 1)})
    step = advance(CURRICULUM, s, now)
    assert [lv for lv, _ in step.completed] == [0] and step.current_level == 1
    flagged = state(current_level=1, completions={0: Completion(T1)})
    assert advance(CURRICULUM, flagged, now, review=True).flags[0][0] == 0
    assert advance(CURRICULUM, flagged, now).flags == []
    rows = [("a", code, p) for code, p in level_zero_done().items()] + [("b", "L0-M1", ModuleProgress())]
    assert might_complete(CURRICULUM, rows) == ["a"]
    assert certificate_path("a/b c", 2) == "/v1/officials/a%2Fb%20c/levels/2/certificate"


def enrolment_out(level: int, status: str) -> EnrolmentOut:
    return EnrolmentOut(uuid.uuid4(), uuid.uuid4(), "a", level, status, 1, 2 if status == "waitlisted" else None, T1)  # type: ignore[arg-type]


def test_dashboard_view() -> None:
    s = state(placed_level=1, current_level=2, completions={1: Completion(T1, "v1", None, "S-1")})
    levels, current = dashboard.levels(CURRICULUM, s)
    assert [lv.status for lv in levels] == ["placed_out", "completed", "current", "locked", "locked"]
    assert current is not None and dashboard.path_percent(s, current) == 25.0
    assert [c.status for c in dashboard.certificates(s)] == ["issued"]
    open_session = dashboard.OpenSession(uuid.uuid4(), date(2026, 5, 1), "L2")
    assert dashboard.next_step(s, current, None, open_session).kind == "session"
    assert dashboard.next_step(s, current, None, None).kind == "module"
    waiting = enrolment_out(2, "waitlisted")
    assert dashboard.active_at(s, [enrolment_out(1, "enrolled"), waiting]) is waiting
    assert dashboard.next_step(state(current_level=5), None, None, None).kind == "done"


def test_report_tables() -> None:
    paths = [
        {"org": "", "placed_level": 0, "current_level": 2, "n": 3},
        {"org": "", "placed_level": 1, "current_level": 1, "n": 1},
    ]
    name, columns, rows = reports.completion("level", paths, [{"org": "", "level": 1, "n": 1}])
    assert name == "completion-by-level" and "org" not in columns
    one = next(r for r in rows if r["level"] == 1)
    assert one == {
        "level": 1,
        "placed": 1,
        "reached": 4,
        "in_progress": 1,
        "enrolled": 1,
        "completed": 3,
        "completion_rate": 0.75,
    }
    assert reports.rate(1, 0) is None
    _, _, capacity = reports.capacity_by_level(
        CURRICULUM, [{"level": 0, "sessions": 2, "seats": 40, "enrolled": 10, "waitlisted": 0}]
    )
    assert capacity[0]["fill_rate"] == 0.25 and capacity[1]["sessions"] == 0
