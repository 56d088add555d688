"""Sessions, enrolment rules, seats under concurrency, waitlists and withdrawals over real HTTP."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from services.progress.db import today
from tests.progress.conftest import Service, sql

SERVICE = "progress"


async def test_enrol_rules(svc: Service) -> None:
    await svc.publish()
    await svc.place("a", 1)
    s1 = await svc.session(1)
    s2 = await svc.session(2)
    # wrong level
    r = await svc.enrol(s2["id"], "a")
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:not-current-level"
    # no path at all
    r = await svc.enrol(s1["id"], "stranger")
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:no-learning-path"
    # current level works, once (a learner needs to send no body at all)
    r = await svc.client.post(f"/v1/sessions/{s1['id']}/enrolments", headers=svc.learner("a"))
    assert r.status_code == 201 and r.json()["status"] == "enrolled"
    other = await svc.session(1)
    r = await svc.enrol(other["id"], "a")
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:already-enrolled"
    # an admin may override the level rule with a reason
    r = await svc.admin_enrol(s2["id"], "a", reason="instructor recommendation")
    assert r.status_code == 201 and r.json()["override_reason"] == "instructor recommendation"
    # learners cannot enrol others or override
    r = await svc.client.post(
        f"/v1/sessions/{other['id']}/enrolments", json={"official_id": "b"}, headers=svc.learner("a")
    )
    assert r.status_code == 403
    # a session that already started
    past = await svc.session(1, days=[today() - timedelta(days=1), today()])
    await svc.place("b", 1)
    r = await svc.enrol(past["id"], "b")
    assert r.status_code == 422 and r.json()["type"] == "urn:lms:problem:session-started"
    # full and closed (no waitlist)
    tiny = await svc.session(1, seats=1, waitlist_limit=0)
    await svc.place("c", 1)
    assert (await svc.enrol(tiny["id"], "c")).status_code == 201
    r = await svc.enrol(tiny["id"], "b")
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:session-full"
    closed = await svc.session(1, enrolment_open=False)
    r = await svc.enrol(closed["id"], "b")
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:enrolment-closed"
    # a missing session
    r = await svc.enrol("00000000-0000-7000-8000-000000000000", "b")
    assert r.status_code == 404


async def test_hundred_concurrent_enrolments_into_twenty_seats(svc: Service, database_url: str) -> None:
    await svc.publish()
    officials = [f"p-{i:03d}" for i in range(100)]
    await asyncio.gather(*(svc.place(o, 0) for o in officials))
    session = await svc.session(0, seats=20)
    results = await asyncio.gather(*(svc.enrol(session["id"], o) for o in officials))
    assert all(r.status_code == 201 for r in results), [r.text for r in results if r.status_code != 201][:3]
    bodies = [r.json() for r in results]
    enrolled = [b for b in bodies if b["status"] == "enrolled"]
    waitlisted = [b for b in bodies if b["status"] == "waitlisted"]
    assert len(enrolled) == 20 and len(waitlisted) == 80
    # arrival order: the 20 seats went to the 20 earliest arrivals, the waitlist follows arrival
    by_arrival = sorted(bodies, key=lambda b: b["seq"])
    assert [b["status"] for b in by_arrival] == ["enrolled"] * 20 + ["waitlisted"] * 80
    assert [b["waitlist_position"] for b in by_arrival[20:]] == list(range(1, 81))
    row = (await sql(database_url, "SELECT enrolled_count, waitlisted_count FROM cohort_session"))[0]
    assert row == {"enrolled_count": 20, "waitlisted_count": 80}
    counts = await sql(database_url, "SELECT status, count(*) AS n FROM enrolment GROUP BY status ORDER BY status")
    assert counts == [{"status": "enrolled", "n": 20}, {"status": "waitlisted", "n": 80}]
    s = (await svc.client.get(f"/v1/sessions/{session['id']}", headers=svc.learner("p-000"))).json()
    assert s["enrolled"] == 20 and s["waitlisted"] == 80 and s["free_seats"] == 0


async def test_withdraw_promotes_first_waitlisted(svc: Service) -> None:
    await svc.publish()
    for o in ("w1", "w2", "w3", "w4"):
        await svc.place(o, 0)
    s = await svc.session(0, seats=2)
    ids = {}
    for o in ("w1", "w2", "w3", "w4"):
        r = await svc.enrol(s["id"], o)
        ids[o] = r.json()
    assert [ids[o]["status"] for o in ("w1", "w2", "w3", "w4")] == ["enrolled", "enrolled", "waitlisted", "waitlisted"]
    # another learner cannot withdraw someone else's enrolment (404, not 403: no leaking)
    r = await svc.client.post(f"/v1/enrolments/{ids['w1']['id']}/withdraw", headers=svc.learner("w3"))
    assert r.status_code == 404
    r = await svc.client.post(f"/v1/enrolments/{ids['w1']['id']}/withdraw", headers=svc.learner("w1"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["enrolment"]["status"] == "withdrawn"
    assert out["promoted"]["official_id"] == "w3" and out["promoted"]["status"] == "enrolled"
    roster = (await svc.client.get(f"/v1/sessions/{s['id']}/enrolments", headers=svc.admin)).json()
    assert [(e["official_id"], e["status"], e["waitlist_position"]) for e in roster] == [
        ("w1", "withdrawn", None),
        ("w2", "enrolled", None),
        ("w3", "enrolled", None),
        ("w4", "waitlisted", 1),
    ]
    # withdrawing a waitlisted official promotes nobody; withdrawing twice is harmless
    r = await svc.client.post(f"/v1/enrolments/{ids['w4']['id']}/withdraw", headers=svc.admin)
    assert r.json()["promoted"] is None
    again = await svc.client.post(f"/v1/enrolments/{ids['w4']['id']}/withdraw", headers=svc.admin)
    assert again.status_code == 200 and again.json()["enrolment"]["status"] == "withdrawn"
    s2 = (await svc.client.get(f"/v1/sessions/{s['id']}", headers=svc.admin)).json()
    assert (s2["enrolled"], s2["waitlisted"]) == (2, 0)
    # the withdrawn official may enrol again
    assert (await svc.enrol(s["id"], "w1")).json()["status"] == "waitlisted"


async def test_idempotency_key_replays_the_first_answer(svc: Service) -> None:
    await svc.publish()
    await svc.place("k", 0)
    s = await svc.session(0)
    first = await svc.enrol(s["id"], "k", key="enrol-k-1")
    assert first.status_code == 201
    again = await svc.enrol(s["id"], "k", key="enrol-k-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    # concurrent retries with one key give one enrolment
    await svc.place("k2", 0)
    results = await asyncio.gather(*(svc.enrol(s["id"], "k2", key="enrol-k2") for _ in range(5)))
    assert {r.status_code for r in results} == {201} and len({r.json()["id"] for r in results}) == 1
    # a different request under a used key is refused
    other = await svc.session(0)
    r = await svc.enrol(other["id"], "k", key="enrol-k-1")
    assert r.status_code == 422 and r.json()["type"] == "urn:lms:problem:idempotency-key-reused"
    # without a key, a retry is a clear conflict rather than a second enrolment
    r = await svc.enrol(s["id"], "k")
    assert r.status_code == 409


async def test_session_admin_and_listing(svc: Service) -> None:
    await svc.publish()
    a = await svc.session(0, seats=3, instructor="t-1")
    await svc.session(1)
    r = await svc.client.post(
        "/v1/sessions", json={"level": 0, "title": "x", "days": [], "seats": 5}, headers=svc.admin
    )
    assert r.status_code == 400
    r = await svc.client.post(
        "/v1/sessions", json={"level": 0, "title": "x", "days": ["2030-01-01"], "seats": 5}, headers=svc.learner("z")
    )
    assert r.status_code == 403
    page = (await svc.client.get("/v1/sessions?level=0&limit=1", headers=svc.learner("z"))).json()
    assert [s["id"] for s in page["items"]] == [a["id"]] and page["next_cursor"] is None
    all_pages = (await svc.client.get("/v1/sessions?limit=1", headers=svc.admin)).json()
    assert all_pages["next_cursor"]
    nxt = (await svc.client.get(f"/v1/sessions?limit=1&cursor={all_pages['next_cursor']}", headers=svc.admin)).json()
    assert nxt["items"][0]["id"] != all_pages["items"][0]["id"]
    await svc.place("q1", 0)
    await svc.enrol(a["id"], "q1")
    r = await svc.client.patch(f"/v1/sessions/{a['id']}", json={"seats": 0}, headers=svc.admin)
    assert r.status_code == 400
    r = await svc.client.patch(f"/v1/sessions/{a['id']}", json={"enrolment_open": False}, headers=svc.admin)
    assert r.status_code == 200 and r.json()["enrolment_open"] is False


async def test_races_past_the_checks_are_stopped_by_the_database(svc: Service, database_url: str) -> None:
    """One official enrolling into two sessions of a level at the same moment: each request locks
    only its own session, so the partial unique index decides; the loser gets a 409, never a 500."""
    await svc.publish()
    for round_ in range(5):
        official = f"race-{round_}"
        await svc.place(official, 0)
        a, b = await svc.session(0), await svc.session(0)
        results = await asyncio.gather(svc.enrol(a["id"], official), svc.enrol(b["id"], official))
        assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert loser.json()["type"] == "urn:lms:problem:already-enrolled"
    rows = await sql(
        database_url,
        "SELECT official_id, count(*) AS n FROM enrolment WHERE status <> 'withdrawn' GROUP BY 1 HAVING count(*) > 1",
    )
    assert rows == []
    # the seat counter cannot pass the seats even when written directly
    s = await svc.session(0, seats=1)
    import asyncpg

    from services.common.db import plain_url

    conn = await asyncpg.connect(plain_url(database_url))
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE cohort_session SET enrolled_count = 2 WHERE id = $1", uuid.UUID(s["id"]))
    finally:
        await conn.close()
