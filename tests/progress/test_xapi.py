"""The xAPI Statements resource as it feeds progress: headers, POST/PUT/GET, conflicts, voiding, paging."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from tests.progress.conftest import Service, sql

SERVICE = "progress"
V = {"X-Experience-API-Version": "1.0.3"}
ADL = "http://adlnet.gov/expapi/verbs/"


def statement(official: str, verb: str, module: str, sid: str | None = None, **extra: object) -> dict:
    s = {
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.go.kr", "name": official}},
        "verb": {"id": ADL + verb, "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": f"urn:lms:module:{module}"},
        "timestamp": "2026-04-01T10:00:00Z",
        **extra,
    }
    if sid:
        s["id"] = sid
    return s


async def test_about_and_version_header(svc: Service) -> None:
    r = await svc.client.get("/xapi/about")
    assert r.status_code == 200 and "1.0.3" in r.json()["version"]
    assert r.headers["x-experience-api-version"]
    r = await svc.client.get("/xapi/statements", headers=svc.service)
    assert r.status_code == 400 and "X-Experience-API-Version" in r.json()["detail"]
    assert r.headers["x-experience-api-version"] == "2.0.0"  # errors carry it too (the newest, when none was sent)
    r = await svc.client.get("/xapi/statements", headers={**svc.keys.headers("hr"), **V})
    assert r.status_code == 403 and r.headers["x-experience-api-version"] == "1.0.3"


async def test_post_put_get_conflict_and_progress(svc: Service, database_url: str) -> None:
    await svc.publish()
    h = {**svc.service, **V}
    sid = str(uuid.uuid4())
    s1 = statement("x1", "completed", "L0-M1", sid)
    r = await svc.client.post("/xapi/statements", json=[s1, statement("x1", "experienced", "L0-M2")], headers=h)
    assert r.status_code == 200, r.text
    ids = r.json()
    assert ids[0] == sid and len(ids) == 2 and r.headers["x-experience-api-version"] == "1.0.3"
    # completed on a module drives progress; "experienced" is only stored
    rows = await sql(database_url, "SELECT module_code, completed_at FROM module_progress WHERE official_id = 'x1'")
    assert [r["module_code"] for r in rows] == ["L0-M1"] and rows[0]["completed_at"] is not None
    # identical replay: no-op; same id different content: 409
    assert (await svc.client.post("/xapi/statements", json=s1, headers=h)).status_code == 200
    r = await svc.client.post("/xapi/statements", json=statement("x1", "passed", "L0-M1", sid), headers=h)
    assert r.status_code == 409
    # PUT needs statementId and answers 204
    sid2 = str(uuid.uuid4())
    r = await svc.client.put("/xapi/statements", json=statement("x1", "passed", "L0-Q"), headers=h)
    assert r.status_code == 400
    scored = statement("x1", "passed", "L0-Q", result={"score": {"scaled": 0.85}, "success": True})
    r = await svc.client.put(f"/xapi/statements?statementId={sid2}", json=scored, headers=h)
    assert r.status_code == 204, r.text
    best = await sql(database_url, "SELECT best_score FROM module_progress WHERE module_code = 'L0-Q'")
    assert best == [{"best_score": 85.0}]
    # GET one, with the stored statement and headers
    r = await svc.client.get(f"/xapi/statements?statementId={sid}", headers=h)
    assert r.status_code == 200 and r.json()["id"] == sid and "stored" in r.json()
    assert r.json()["authority"]["account"] == {"homePage": "https://lms.example.go.kr", "name": "service:placement"}
    assert "x-experience-api-consistent-through" in r.headers
    r = await svc.client.get(f"/xapi/statements?statementId={sid}&verb={ADL}completed", headers=h)
    assert r.status_code == 400
    # an mbox actor is stored as any LRS stores it, but is no official: no progress
    mbox = statement("x1", "completed", "L0-M3")
    mbox["actor"] = {"objectType": "Agent", "mbox": "mailto:kim@example.go.kr"}
    r = await svc.client.post("/xapi/statements", json=mbox, headers=h)
    assert r.status_code == 200, r.text
    assert await sql(database_url, "SELECT 1 FROM module_progress WHERE module_code = 'L0-M3'") == []
    # a learner's own passed statement is stored but does not count as a result
    own = statement("x3", "passed", "L0-Q", result={"score": {"scaled": 1.0}})
    r = await svc.client.post("/xapi/statements", json=own, headers={**svc.learner("x3"), **V})
    assert r.status_code == 200
    assert await sql(database_url, "SELECT 1 FROM module_progress WHERE official_id = 'x3'") == []
    # learners may only speak about themselves
    r = await svc.client.post(
        "/xapi/statements", json=statement("x2", "completed", "L0-M1"), headers={**svc.learner("x1"), **V}
    )
    assert r.status_code == 403


async def test_query_paging_and_voiding(svc: Service, database_url: str) -> None:
    await svc.publish()
    h = {**svc.service, **V}
    ids = []
    for i in range(5):
        r = await svc.client.post("/xapi/statements", json=statement("q", "completed", f"L0-M{1 + i % 2}"), headers=h)
        ids += r.json()
    r = await svc.client.get("/xapi/statements?limit=2&ascending=true", headers=h)
    page = r.json()
    assert [s["id"] for s in page["statements"]] == ids[:2] and page["more"].startswith("/xapi/statements?")
    seen = [s["id"] for s in page["statements"]]
    while page["more"]:
        page = (await svc.client.get(page["more"], headers=h)).json()
        seen += [s["id"] for s in page["statements"]]
    assert seen == ids
    # since is exclusive and until inclusive, on the stored time
    third = (await svc.client.get(f"/xapi/statements?statementId={ids[2]}", headers=h)).json()["stored"]
    after = (await svc.client.get("/xapi/statements", params={"since": third, "ascending": "true"}, headers=h)).json()
    assert [s["id"] for s in after["statements"]] == ids[3:]
    upto = (await svc.client.get("/xapi/statements", params={"until": third, "ascending": "true"}, headers=h)).json()
    assert [s["id"] for s in upto["statements"]] == ids[:3]
    agent = '{"account": {"homePage": "https://lms.example.go.kr", "name": "q"}}'
    assert len((await svc.client.get("/xapi/statements", params={"agent": agent}, headers=h)).json()["statements"]) == 5
    # void the first one: it disappears from queries, is reachable by voidedStatementId, and progress recomputes
    void = {
        "actor": {"account": {"homePage": "https://lms.example.go.kr", "name": "q"}},
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": ids[0]},
    }
    r = await svc.client.post("/xapi/statements", json=void, headers=h)
    assert r.status_code == 200, r.text
    assert (await svc.client.get(f"/xapi/statements?statementId={ids[0]}", headers=h)).status_code == 404
    r = await svc.client.get(f"/xapi/statements?voidedStatementId={ids[0]}", headers=h)
    assert r.status_code == 200 and r.json()["id"] == ids[0]
    listed = (await svc.client.get("/xapi/statements", headers=h)).json()["statements"]
    assert ids[0] not in [s["id"] for s in listed] and len(listed) == 5  # 4 left + the voiding statement
    voided = await sql(database_url, "SELECT voided_at FROM learning_event WHERE event_id = $1", f"xapi:{ids[0]}")
    assert voided[0]["voided_at"] is not None
    # a voiding statement needs a StatementRef, and cannot itself be voided
    bad = {**void, "object": {"objectType": "Activity", "id": ids[1]}}
    assert (await svc.client.post("/xapi/statements", json=bad, headers=h)).status_code == 400
    assert listed[0]["verb"]["id"] == ADL + "voided"  # newest first: the voiding statement
    void_id = listed[0]["id"]
    again = {**void, "object": {"objectType": "StatementRef", "id": void_id}}
    assert (await svc.client.post("/xapi/statements", json=again, headers=h)).status_code == 400


async def test_pages_in_stored_order_through_the_activity_index(svc: Service, database_url: str) -> None:
    """Pages follow ``stored`` (not the insertion sequence) for every index a filter walks, in both
    directions and across ``more``; a statement that only shares an activity's hash is no match."""
    h = {**svc.service, **V}
    ids = []
    for _ in range(4):
        r = await svc.client.post("/xapi/statements", json=statement("o", "experienced", "L0-M1"), headers=h)
        ids += r.json()
    parent = {"contextActivities": {"parent": [{"id": "urn:lms:module:L0-M1"}]}}
    r = await svc.client.post(
        "/xapi/statements", json=statement("o", "experienced", "L0-M2", context=parent), headers=h
    )
    ids += r.json()
    # the last statement of L0-M1 was stored first but committed last (as a slow concurrent write would)
    for table in ("xapi_statement", "xapi_statement_activity"):
        await sql(
            database_url,
            f"UPDATE {table} SET stored = stored - interval '1 hour' "
            "WHERE seq = (SELECT seq FROM xapi_statement WHERE id = $1)",
            uuid.UUID(ids[3]),
        )
    newest_first = [ids[4], ids[2], ids[1], ids[0], ids[3]]

    async def walk(**params: str) -> list[str]:
        page = (await svc.client.get("/xapi/statements", params={"limit": "1", **params}, headers=h)).json()
        seen = [s["id"] for s in page["statements"]]
        while page["more"]:
            page = (await svc.client.get(page["more"], headers=h)).json()
            seen += [s["id"] for s in page["statements"]]
        return seen

    assert await walk() == newest_first
    assert await walk(ascending="true") == newest_first[::-1]
    assert await walk(activity="urn:lms:module:L0-M1") == [i for i in newest_first if i != ids[4]]
    assert await walk(activity="urn:lms:module:L0-M1", ascending="true") == [ids[3], ids[0], ids[1], ids[2]]
    assert await walk(activity="urn:lms:module:L0-M1", related_activities="true") == newest_first
    assert await walk(activity="urn:lms:module:L0-M2", related_activities="true") == [ids[4]]
    # a row of another activity whose hash collides: read, but not answered
    await sql(
        database_url,
        "INSERT INTO xapi_statement_activity (activity, stored, seq, direct) "
        "SELECT ('x' || left(md5($1), 16))::bit(64)::bigint, stored, seq, true FROM xapi_statement WHERE id = $2",
        "urn:lms:module:L0-M9",
        uuid.UUID(ids[0]),
    )
    page = (await svc.client.get("/xapi/statements", params={"activity": "urn:lms:module:L0-M9"}, headers=h)).json()
    assert page == {"statements": [], "more": ""}


async def test_consistent_through_waits_for_open_transactions(svc: Service, database_url: str) -> None:
    """X-Experience-API-Consistent-Through never passes the start of a transaction still open
    (a statement's ``stored`` is its transaction's start), and follows the clock when none is."""
    import asyncpg

    from services.common.db import plain_url

    h = {**svc.service, **V}

    async def through() -> datetime:
        r = await svc.client.get("/xapi/statements", headers=h)
        assert r.status_code == 200
        return datetime.fromisoformat(r.headers["x-experience-api-consistent-through"].replace("Z", "+00:00"))

    sid = (await svc.client.post("/xapi/statements", json=statement("c", "experienced", "L0-M1"), headers=h)).json()[0]
    stored = (await svc.client.get(f"/xapi/statements?statementId={sid}", headers=h)).json()["stored"]
    assert datetime.fromisoformat(stored.replace("Z", "+00:00")) <= await through()
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        writer = conn.transaction()
        await writer.start()
        started = await conn.fetchval("SELECT now()")
        await asyncio.sleep(0.05)
        assert await through() < started
        await writer.rollback()
        assert await through() > started
    finally:
        await conn.close()
