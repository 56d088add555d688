"""Learning-event batches: idempotency, conflicts, atomicity, forward-only merges, completion,
and the certificate request written to the outbox exactly once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.progress.db import today
from tests.progress.conftest import Service, event, outbox_rows, sql

SERVICE = "progress"


async def test_batch_rules(svc: Service, database_url: str) -> None:
    await svc.publish()
    batch = [event("e1", "o", "L0-M1", "started"), event("e2", "o", "L0-M1", "completed")]
    r = await svc.events(batch)
    assert r.status_code == 200 and r.json()["accepted"] == 2 and r.json()["duplicates"] == 0
    # same ids, same content: a no-op
    r = await svc.events(batch)
    assert r.status_code == 200 and r.json() == {"accepted": 0, "duplicates": 2, "completed_levels": []}
    # same id, different content: 409 naming it, and nothing else in the batch is stored
    r = await svc.events(
        [event("e3", "o", "L0-M2", "completed"), event("e2", "o", "L0-M1", "completed", "2026-04-02T10:00:00Z")]
    )
    assert r.status_code == 409 and "e2" in r.json()["detail"]
    assert r.json()["errors"] == [{"index": 1, "id": "e2", "reason": r.json()["errors"][0]["reason"]}]
    assert await sql(database_url, "SELECT 1 FROM learning_event WHERE event_id = 'e3'") == []
    # duplicate ids within one batch: 400 listing them
    r = await svc.events([event("d", "o", "L0-M1", "started"), event("d", "o", "L0-M1", "started")])
    assert r.status_code == 400 and r.json()["errors"][0]["index"] == 1
    # every bad event is listed, and the good ones are not stored
    r = await svc.events(
        [
            event("g1", "o", "L0-M1", "started"),
            event("b1", "o", "NOPE", "completed"),
            event("b2", "o", "L0-M1", "started", score=5),
            {**event("b3", "o", "L0-M1", "started"), "occurred_at": "2026-04-01T10:00:00"},
        ]
    )
    assert r.status_code == 422, r.text
    assert [e["index"] for e in r.json()["errors"]] == [1, 2, 3]
    assert "unknown module NOPE" in r.json()["errors"][0]["reason"]
    assert await sql(database_url, "SELECT 1 FROM learning_event WHERE event_id = 'g1'") == []
    # more than 1,000 events is refused
    r = await svc.events([event(f"x{i}", "o", "L0-M1", "started") for i in range(1001)])
    assert r.status_code == 400
    # a bad verb is a validation problem naming the field
    r = await svc.events([event("v", "o", "L0-M1", "jumped")])
    assert r.status_code == 400 and "verb" in r.json()["errors"][0]["field"]
    # learners may send only their own events
    r = await svc.events([event("l1", "someone-else", "L0-M1", "started")], headers=svc.learner("me"))
    assert r.status_code == 422 and "own events" in r.json()["errors"][0]["reason"]
    r = await svc.events([event("l2", "me", "L0-M1", "started")], headers=svc.learner("me"))
    assert r.status_code == 200
    # ... and cannot certify their own results or attendance
    r = await svc.events(
        [event("l3", "me", "L0-M2", "completed"), event("l4", "me", "L0-Q", "passed", score=100)],
        headers=svc.learner("me"),
    )
    assert r.status_code == 422 and [e["id"] for e in r.json()["errors"]] == ["l4"]
    # instructors record results only for officials enrolled in a session they teach
    await svc.place("taught", 0)
    s = await svc.session(0, instructor="t-9")
    assert (await svc.enrol(s["id"], "taught")).status_code == 201
    r = await svc.events(
        [event("i1", "taught", "L0-Q", "passed", score=90), event("i2", "me", "L0-Q", "passed", score=90)],
        headers=svc.instructor("t-9"),
    )
    assert r.status_code == 422 and [e["id"] for e in r.json()["errors"]] == ["i2"]
    r = await svc.events([event("i1", "taught", "L0-Q", "passed", score=90)], headers=svc.instructor("t-9"))
    assert r.status_code == 200 and r.json()["accepted"] == 1


async def test_merges_move_forward_only_in_any_order(svc: Service, database_url: str) -> None:
    await svc.publish()
    events = [
        event("m1", "o", "L1-M3", "passed", "2026-04-03T10:00:00Z", score=65),
        event("m2", "o", "L1-M3", "failed", "2026-04-01T10:00:00Z", score=40),
        event("m3", "o", "L1-M3", "completed", "2026-04-05T10:00:00Z"),
        event("m4", "o", "L1-M3", "passed", "2026-04-02T10:00:00Z", score=90),
        event("m5", "o", "L1-M3", "completed", "2026-04-04T10:00:00Z"),
    ]
    for e in reversed(events):  # newest facts first, one by one
        assert (await svc.events([e])).status_code == 200
    forward = await sql(
        database_url,
        "SELECT started_at, completed_at, passed_at, best_score, event_count FROM module_progress",
    )
    assert len(forward) == 1
    row = forward[0]
    assert row["started_at"].isoformat().startswith("2026-04-01T10")
    assert row["completed_at"].isoformat().startswith("2026-04-04T10")
    assert row["passed_at"].isoformat().startswith("2026-04-02T10")
    assert row["best_score"] == 90 and row["event_count"] == 5


async def complete_level_zero(svc: Service, official: str, prefix: str = "c") -> dict:
    """Enrol (admin override into a session that has started), attend, finish required modules."""
    await svc.place(official, 0)
    s = await svc.session(0, days=[today() - timedelta(days=1)], instructor="t-1")
    r = await svc.admin_enrol(s["id"], official)
    assert r.status_code == 201, r.text
    r = await svc.client.put(
        f"/v1/sessions/{s['id']}/attendance/{s['days'][0]}",
        json={"records": [{"official_id": official, "status": "present"}]},
        headers=svc.instructor("t-1"),
    )
    assert r.status_code == 200, r.text
    r = await svc.events(
        [
            event(f"{prefix}1", official, "L0-M1", "completed"),
            event(f"{prefix}2", official, "L0-M2", "completed"),
        ]
    )
    assert r.json()["completed_levels"] == []
    r = await svc.events([event(f"{prefix}3", official, "L0-Q", "passed", score=80)])
    assert r.status_code == 200
    return r.json()


async def test_level_completion_writes_one_certificate_request(svc: Service, database_url: str) -> None:
    await svc.publish()
    out = await complete_level_zero(svc, "grad")
    assert [(d["official_id"], d["level"]) for d in out["completed_levels"]] == [("grad", 0)]
    rows = await outbox_rows(database_url)
    assert len(rows) == 1
    msg = rows[0]
    assert msg["destination"] == "certification" and msg["method"] == "PUT"
    assert msg["path"] == "/v1/officials/grad/levels/0/certificate"
    body = json.loads(msg["body"])
    assert body == {
        "official": {"id": "grad", "name": "Name grad", "org": "ORG-A"},
        # the latest fact that made the level complete: the attended session day
        "completed_at": f"{(today() - timedelta(days=1)).isoformat()}T00:00:00Z",
        "curriculum_version": "2026.1",
    }
    # replays and further events never request a second certificate
    await svc.events([event("c3", "grad", "L0-Q", "passed", score=80), event("c4", "grad", "L0-M3", "completed")])
    assert len(await outbox_rows(database_url)) == 1
    path = (await svc.client.get("/v1/me/path", headers=svc.learner("grad"))).json()
    assert path["current_level"] == 1 and path["levels"][0]["status"] == "completed"
    assert path["certificates"][0]["status"] == "requested"


async def test_failing_score_below_minimum_does_not_complete(svc: Service, database_url: str) -> None:
    await svc.publish()
    await svc.place("low", 0)
    await svc.client.post(
        "/v1/officials/low/waivers",
        json={"level": 0, "target": "attendance", "reason": "remote worker"},
        headers=svc.admin,
    )
    r = await svc.events(
        [
            event("w1", "low", "L0-M1", "completed"),
            event("w2", "low", "L0-M2", "completed"),
            event("w3", "low", "L0-Q", "passed", score=50),
        ]
    )
    assert r.json()["completed_levels"] == []
    # a high score on a failed attempt is not a pass
    r = await svc.events([event("w3b", "low", "L0-Q", "failed", score=95)])
    assert r.json()["completed_levels"] == []
    r = await svc.events([event("w4", "low", "L0-Q", "passed", "2026-04-02T10:00:00Z", score=70)])
    assert [d["level"] for d in r.json()["completed_levels"]] == [0]
    # the attendance waiver, granted today, is the latest fact behind the completion
    waived = (await sql(database_url, "SELECT created_at FROM waiver"))[0]["created_at"]
    done = (await sql(database_url, "SELECT completed_at FROM level_completion"))[0]["completed_at"]
    assert done == waived
    # a duplicate waiver is a conflict, an unknown module a clear 422
    r = await svc.client.post(
        "/v1/officials/low/waivers", json={"level": 0, "target": "attendance", "reason": "again"}, headers=svc.admin
    )
    assert r.status_code == 409
    r = await svc.client.post(
        "/v1/officials/low/waivers",
        json={"level": 1, "target": "module:L0-M1", "reason": "wrong level"},
        headers=svc.admin,
    )
    assert r.status_code == 422


async def test_events_follow_a_newly_published_curriculum(
    svc: Service, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service validates against the curriculum it last saw published and the storing
    statement checks it still is. A replica that still remembers the old version (simulated
    here) stores events that fit both against the new one, and accepts the new version's modules."""
    from services.progress.seed import programme
    from services.progress.store import curricula

    await svc.publish()
    r = await svc.events([event("p1", "o", "L0-M1", "started")])
    assert r.status_code == 200 and r.json()["accepted"] == 1
    old = curricula.last_published()
    assert old is not None
    r = await svc.events([event("p2", "o", "L0-M9", "started")])
    assert r.status_code == 422 and "unknown module L0-M9" in r.json()["errors"][0]["reason"]
    doc = programme("2026.2")
    modules = doc["levels"][0]["courses"][0]["modules"]
    modules.append({**modules[-1], "code": "L0-M9", "title_en": "New", "required": False, "order": 99})
    await svc.publish(doc)
    # an event that fits the remembered (now retired) version: the statement stores nothing, the
    # published version is read, and the event is stored once
    monkeypatch.setitem(curricula._last_published, "hint", old)
    r = await svc.events([event("p3", "o", "L0-M2", "started")])
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert curricula.last_published() is not old
    # a module only the new version has: accepted although the remembered version refuses it
    monkeypatch.setitem(curricula._last_published, "hint", old)
    r = await svc.events([event("p2", "o", "L0-M9", "started")])
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    rows = await sql(database_url, "SELECT event_id FROM learning_event WHERE event_id LIKE 'p%' ORDER BY 1")
    assert rows == [{"event_id": "p1"}, {"event_id": "p2"}, {"event_id": "p3"}]
