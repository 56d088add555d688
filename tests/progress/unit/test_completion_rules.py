"""The pure completion rules, without any I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.progress.domain.completion import (
    Attendance,
    LevelDef,
    ModuleDef,
    ModuleProgress,
    Rule,
    check_prerequisites,
    evaluate_level,
    fold_event,
    module_met_at,
)

T1 = datetime(2026, 4, 1, 9, tzinfo=UTC)
T2 = datetime(2026, 4, 2, 9, tzinfo=UTC)
T3 = datetime(2026, 4, 3, 9, tzinfo=UTC)


def level() -> LevelDef:
    return LevelDef(
        1,
        (
            ModuleDef("A", 1, "C", Rule.COMPLETED, order=0),
            ModuleDef("B", 1, "C", Rule.PASSED, min_score=60, order=1, prerequisites=("A",)),
            ModuleDef("OPT", 1, "C", Rule.COMPLETED, required=False, order=2),
            ModuleDef("F", 1, "C", Rule.COMPLETED_AND_PASSED, min_score=70, final=True, order=3),
        ),
        attendance_threshold=0.8,
    )


def test_module_rules() -> None:
    done = ModuleProgress(completed_at=T1)
    assert module_met_at(ModuleDef("m", 0, "c", Rule.COMPLETED), done) == T1
    assert module_met_at(ModuleDef("m", 0, "c", Rule.PASSED), done) is None
    low = ModuleProgress(passed_at=T1, best_score=50, best_pass_score=50)
    assert module_met_at(ModuleDef("m", 0, "c", Rule.PASSED, min_score=60), low) is None
    assert module_met_at(ModuleDef("m", 0, "c", Rule.PASSED), low) == T1
    both = ModuleProgress(completed_at=T2, passed_at=T1, best_score=80, best_pass_score=80)
    assert module_met_at(ModuleDef("m", 0, "c", Rule.COMPLETED_AND_PASSED, min_score=70), both) == T2
    assert module_met_at(ModuleDef("m", 0, "c", Rule.ATTENDED), ModuleProgress(attended_at=T3)) == T3
    assert module_met_at(ModuleDef("m", 0, "c", Rule.ATTENDED), done) is None


def test_a_high_score_on_a_failed_attempt_is_not_a_pass() -> None:
    quiz = ModuleDef("q", 0, "c", Rule.PASSED, min_score=60)
    p = fold_event(None, "failed", T1, 90.0)
    p = fold_event(p, "passed", T2, 50.0)
    assert p.best_score == 90.0 and p.best_pass_score == 50.0
    assert module_met_at(quiz, p) is None
    p = fold_event(p, "passed", T3, 65.0)
    assert module_met_at(quiz, p) == T2  # the earliest pass (forward-only merge keeps no per-threshold time)


def test_fold_is_order_independent_and_forward_only() -> None:
    events = [("completed", T2, None), ("passed", T3, 55.0), ("failed", T1, 40.0), ("passed", T2, 90.0)]
    forward = None
    for verb, at, score in events:
        forward = fold_event(forward, verb, at, score)
    backward = None
    for verb, at, score in reversed(events):
        backward = fold_event(backward, verb, at, score)
    assert forward == backward
    assert forward is not None
    assert forward.started_at == T1 and forward.completed_at == T2 and forward.passed_at == T2
    assert forward.best_score == 90.0
    # a later failure never undoes a pass or lowers the best score
    after = fold_event(forward, "failed", T3, 10.0)
    assert after.passed_at == T2 and after.best_score == 90.0


def test_level_needs_required_modules_attendance_and_final() -> None:
    lv = level()
    good_attendance = Attendance(session_days=5, present=4, last_attended=date(2026, 4, 5))
    progress = {
        "A": ModuleProgress(completed_at=T1),
        "B": ModuleProgress(passed_at=T2, best_score=65, best_pass_score=65),
    }
    result = evaluate_level(lv, progress, good_attendance)
    assert not result.met and result.missing == ("module:F",) and not result.final_ok
    assert result.required_total == 3 and result.required_met == 2 and result.percent == 66.7
    assert result.next_module == "F"

    progress["F"] = ModuleProgress(completed_at=T2, passed_at=T3, best_score=75, best_pass_score=75)
    result = evaluate_level(lv, progress, good_attendance)
    assert result.met and result.percent == 100.0
    assert result.met_at == datetime(2026, 4, 5, tzinfo=UTC)  # the last attended day is the latest fact

    poor = Attendance(session_days=5, present=3)
    result = evaluate_level(lv, progress, poor)
    assert not result.met and result.missing == ("attendance",) and result.attendance_rate == 0.6
    assert not evaluate_level(lv, progress, None).met


def test_excused_days_leave_the_denominator_and_late_counts() -> None:
    assert Attendance(session_days=5, present=3, late=1, excused=1).rate == 1.0
    assert Attendance(session_days=5, present=3, excused=0).rate == 0.6
    assert Attendance(session_days=2, excused=2).rate == 1.0


def test_waivers_count_as_met_with_their_time() -> None:
    lv = level()
    progress = {"A": ModuleProgress(completed_at=T1)}
    waivers = {"module:B": T2, "final": T3, "attendance": T1}
    result = evaluate_level(lv, progress, None, waivers)
    assert result.met and result.met_at == T3


def test_optional_modules_do_not_block_and_next_module_respects_prerequisites() -> None:
    lv = level()
    result = evaluate_level(lv, {}, Attendance(1, 1))
    assert "module:OPT" not in result.missing
    assert result.next_module == "A"  # B needs A first
    result = evaluate_level(lv, {"A": ModuleProgress(completed_at=T1)}, Attendance(1, 1))
    assert result.next_module == "B"


def test_level_without_attendance_threshold() -> None:
    lv = LevelDef(0, (ModuleDef("A", 0, "C", Rule.COMPLETED),), attendance_threshold=None)
    assert evaluate_level(lv, {"A": ModuleProgress(completed_at=T1)}, None).met


def test_prerequisite_problems() -> None:
    mods = [
        ModuleDef("A", 0, "c", Rule.COMPLETED, prerequisites=("B",)),
        ModuleDef("B", 0, "c", Rule.COMPLETED, prerequisites=("A",)),
        ModuleDef("C", 0, "c", Rule.COMPLETED, prerequisites=("Z",)),
    ]
    problems = check_prerequisites(mods)
    assert any("Z" in p for p in problems) and any("cycle" in p for p in problems)
    assert check_prerequisites(mods[:0]) == []
