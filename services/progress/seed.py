"""Demo data for `lms up`: the five-level programme (published), a schedule of upcoming cohort
sessions like the 2025 cohort, and for every level a one-day cohort running today that learners may
still join (enrolment stays open on a session's first day), so that a newcomer can go from the
diagnostic to a certificate on the day they try it. Idempotent: run it as often as you like (each
day adds that day's cohorts once)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg
import msgspec

from services.common.db import plain_url, uuid7
from services.progress.db import today
from services.progress.schemas import CurriculumIn

VERSION = "2026.1"
TODAY_MARK = "one-day demo cohort"

# (level, ko, en, duration days, seats per session, sessions, courses)
# courses: (code, ko, en, [(code, ko, en, rule, min_score, required, final)])
PROGRAMME: list[tuple[int, str, str, int, int, int, list[Any]]] = [
    (
        0,
        "데이터 리터러시 입문",
        "Introduction to data literacy",
        1,
        20,
        20,
        [
            (
                "L0-C1",
                "데이터와 공공행정",
                "Data in public administration",
                [
                    ("L0-M1", "데이터란 무엇인가", "What data is", "completed", None, True, False),
                    ("L0-M2", "공공데이터 찾기", "Finding public data", "completed", None, True, False),
                    ("L0-M3", "생성형 AI 첫걸음", "First steps with generative AI", "completed", None, False, False),
                    ("L0-Q", "입문 확인 퀴즈", "Introduction check quiz", "passed", 60.0, True, False),
                ],
            ),
        ],
    ),
    (
        1,
        "데이터 기반 정책 제안서 작성",
        "Writing policy proposals with data collection and analysis",
        2,
        20,
        20,
        [
            (
                "L1-C1",
                "데이터 수집과 분석",
                "Collecting and analysing data",
                [
                    ("L1-M1", "문제 정의와 지표", "Framing the problem and indicators", "completed", None, True, False),
                    (
                        "L1-M2",
                        "설문과 행정데이터 수집",
                        "Surveys and administrative data",
                        "completed",
                        None,
                        True,
                        False,
                    ),
                    (
                        "L1-M3",
                        "기초 통계와 시각화",
                        "Basic statistics and charts",
                        "completed_and_passed",
                        60.0,
                        True,
                        False,
                    ),
                ],
            ),
            (
                "L1-C2",
                "정책 제안서",
                "The policy proposal",
                [
                    ("L1-M4", "AI로 초안 쓰기", "Drafting with generative AI", "completed", None, False, False),
                    ("L1-F", "정책 제안서 평가", "Policy proposal assessment", "passed", 70.0, True, True),
                ],
            ),
        ],
    ),
    (
        2,
        "데이터 분석 실습",
        "Data analysis practice",
        5,
        20,
        2,
        [
            (
                "L2-C1",
                "분석 실습",
                "Hands-on analysis",
                [
                    ("L2-M1", "데이터 정제", "Cleaning data", "completed", None, True, False),
                    ("L2-M2", "탐색적 분석", "Exploratory analysis", "completed", None, True, False),
                    (
                        "L2-M3",
                        "회귀와 가설검정",
                        "Regression and hypothesis tests",
                        "completed_and_passed",
                        70.0,
                        True,
                        False,
                    ),
                    ("L2-M4", "AI 보조 분석", "AI-assisted analysis", "completed", None, True, False),
                    ("L2-F", "분석 프로젝트 평가", "Analysis project assessment", "passed", 70.0, True, True),
                ],
            ),
        ],
    ),
    (
        3,
        "데이터 분석 도구 활용",
        "Using data analysis tools (analysis and visualisation platforms)",
        10,
        20,
        1,
        [
            (
                "L3-C1",
                "분석 플랫폼",
                "Analysis platforms",
                [
                    ("L3-M1", "스프레드시트 고급", "Advanced spreadsheets", "completed", None, True, False),
                    ("L3-M2", "파이썬 노트북", "Python notebooks", "completed", None, True, False),
                ],
            ),
            (
                "L3-C2",
                "시각화 플랫폼",
                "Visualisation platforms",
                [
                    ("L3-M3", "대시보드 만들기", "Building dashboards", "completed", None, True, False),
                    ("L3-M4", "지도 시각화", "Maps and spatial data", "completed", None, False, False),
                    ("L3-F", "도구 활용 평가", "Tools assessment", "passed", 70.0, True, True),
                ],
            ),
        ],
    ),
    (
        4,
        "데이터 모델링",
        "Data modelling",
        10,
        15,
        1,
        [
            (
                "L4-C1",
                "모델링",
                "Modelling",
                [
                    ("L4-M1", "데이터 모델 설계", "Designing data models", "completed", None, True, False),
                    ("L4-M2", "예측 모델", "Predictive models", "completed_and_passed", 70.0, True, False),
                    ("L4-M3", "생성형 AI 활용 모델링", "Modelling with generative AI", "completed", None, True, False),
                    ("L4-F", "모델링 캡스톤", "Modelling capstone", "passed", 75.0, True, True),
                ],
            ),
        ],
    ),
]


def programme(version: str = VERSION) -> dict[str, Any]:
    """The programme as a curriculum document (what ``POST /v1/curricula`` takes)."""
    levels = []
    for level, ko, en, days, seats, _, courses in PROGRAMME:
        levels.append(
            {
                "level": level,
                "title_ko": ko,
                "title_en": en,
                "duration_days": days,
                "seats_per_session": seats,
                "attendance_threshold": 0.8,
                "courses": [
                    {
                        "code": ccode,
                        "title_ko": cko,
                        "title_en": cen,
                        "order": ci,
                        "modules": [
                            {
                                "code": code,
                                "title_ko": mko,
                                "title_en": men,
                                "rule": rule,
                                "min_score": min_score,
                                "required": required,
                                "final": final,
                                "order": mi,
                                "prerequisites": [],
                            }
                            for mi, (code, mko, men, rule, min_score, required, final) in enumerate(modules)
                        ],
                    }
                    for ci, (ccode, cko, cen, modules) in enumerate(courses)
                ],
            }
        )
    return {
        "version": version,
        "title": "공무원 데이터·AI 역량 과정 / Data and AI literacy programme",
        "levels": levels,
    }


def workdays(start: date, n: int) -> list[date]:
    out: list[date] = []
    day = start
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def schedule(first: date) -> list[dict[str, Any]]:
    """Sessions like the 2025 cohort, starting on weekdays from ``first``."""
    sessions = []
    places = ["인재개발원 101호 / HRD centre room 101", "시청 별관 3층 / City hall annex 3F"]
    for level, _, en, days, seats, count, _ in PROGRAMME:
        for i in range(count):
            start = first + timedelta(days=7 * (level * 2) + 2 * i)
            sessions.append(
                {
                    "level": level,
                    "title": f"Level {level} · {en} · #{i + 1}",
                    "place": places[i % 2],
                    "instructor_id": f"instructor-{(level * 3 + i) % 7 + 1}" if i % 3 != 2 else None,
                    "seats": seats,
                    "days": workdays(start, days),
                }
            )
    return sessions


async def seed(database_url: str) -> str:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        async with conn.transaction():
            notes = []
            spec = msgspec.convert(programme(), CurriculumIn)
            exists = await conn.fetchval("SELECT 1 FROM curriculum_version WHERE version = $1", VERSION)
            if not exists:
                published = await conn.fetchval("SELECT 1 FROM curriculum_version WHERE status = 'published'")
                await conn.execute(
                    "INSERT INTO curriculum_version (id, version, title, status, definition, created_at, updated_at, "
                    "published_at) VALUES ($1, $2, $3, $4, $5::jsonb, now(), now(), now())",
                    uuid7(),
                    VERSION,
                    spec.title,
                    "draft" if published else "published",
                    msgspec.json.encode(spec).decode(),
                )
                notes.append(f"curriculum {VERSION} loaded")
            if not await conn.fetchval("SELECT 1 FROM cohort_session LIMIT 1"):
                first = today() + timedelta(days=7)
                plan = schedule(first)
                for s in plan:
                    await conn.execute(
                        "INSERT INTO cohort_session (id, level, title, place, instructor_id, seats, enrolment_open, "
                        "days, starts_on, ends_on, enrolled_count, waitlisted_count, created_at, updated_at) "
                        "VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8, $9, 0, 0, now(), now())",
                        uuid7(),
                        s["level"],
                        s["title"],
                        s["place"],
                        s["instructor_id"],
                        s["seats"],
                        s["days"],
                        s["days"][0],
                        s["days"][-1],
                    )
                notes.append(f"{len(plan)} upcoming sessions scheduled from {first}")
            day = today()
            if not await conn.fetchval(
                "SELECT 1 FROM cohort_session WHERE starts_on = $1 AND title LIKE $2", day, f"%{TODAY_MARK}%"
            ):
                for level, _, en, _, seats, _, _ in PROGRAMME:
                    await conn.execute(
                        "INSERT INTO cohort_session (id, level, title, place, instructor_id, seats, enrolment_open, "
                        "days, starts_on, ends_on, enrolled_count, waitlisted_count, created_at, updated_at) "
                        "VALUES ($1, $2, $3, $4, NULL, $5, true, $6, $7, $7, 0, 0, now(), now())",
                        uuid7(),
                        level,
                        f"Level {level} · {en} · {TODAY_MARK} {day}",
                        "온라인 / online",
                        seats,
                        [day],
                        day,
                    )
                notes.append(f"a one-day cohort per level running today ({day}), open to enrolment")
        return "; ".join(notes) or "demo curriculum and sessions already present"
    finally:
        await conn.close()
