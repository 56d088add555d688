"""The diagnostic over real HTTP against a real PostgreSQL: start, resume, answer, replay,
conflicts, concurrency, isolation between learners, expiry, retakes, results and the outbox."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg

from services.common.db import plain_url
from tests.placement.conftest import Bank, Service, bank_rows, finish, learner, load_bank, make_app
from tests.support import Keys, client_for

SERVICE = "placement"
FORBIDDEN_KEYS = {"answer", "a", "b", "c", "code", "correct", "calibrated"}


def assert_no_key(item: dict) -> None:
    assert set(item) == {"position", "item_id", "domain", "stem", "options"}, item
    assert not FORBIDDEN_KEYS & set(item)


async def test_start_resume_and_item_never_leaks_key(svc: Service, bank: Bank, keys: Keys) -> None:
    me = learner(keys, "official-1")
    r = await svc.client.post("/v1/sessions", headers=me)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["status"] == "active" and first["answered"] == 0
    assert_no_key(first["current_item"])
    assert first["current_item"]["position"] == 1
    assert first["current_item"]["stem"]["ko"] and first["current_item"]["stem"]["en"]
    # resume: same session, same current item
    r = await svc.client.post("/v1/sessions", headers=me)
    assert r.status_code == 200 and r.json()["id"] == first["id"]
    assert r.json()["current_item"] == first["current_item"]
    r = await svc.client.get(f"/v1/sessions/{first['id']}", headers=me)
    assert r.status_code == 200 and r.json()["current_item"] == first["current_item"]
    # the raw body never carries key or parameters anywhere
    assert '"answer"' not in r.text and '"a":' not in r.text


async def test_full_diagnostic_result_and_outbox(svc: Service, bank: Bank, keys: Keys, database_url: str) -> None:
    me = learner(keys, "official-2", name="이공무원", org="SEOUL-AI")
    reply = await finish(svc.client, me, bank, right=True)
    result = reply["result"]
    assert reply["next_item"] is None
    assert 0 <= result["level"] <= 4 and result["level"] >= 3  # all right: a high level
    assert abs(sum(result["level_probabilities"]) - 1) < 1e-3
    r = await svc.client.get(f"/v1/results/{result['id']}", headers=me)
    assert r.status_code == 200, r.text
    full = r.json()
    assert full["level"] == result["level"] and full["official_id"] == "official-2"
    assert 3 <= full["length"] <= 5
    assert {d["domain"] for d in full["domains"]} and all("correct" not in i for i in full["items"])
    admin_view = (await svc.client.get(f"/v1/results/{result['id']}", headers=keys.headers("admin"))).json()
    assert all(i["correct"] is True for i in admin_view["items"])
    mine = (await svc.client.get("/v1/results", headers=me)).json()
    assert [x["id"] for x in mine["items"]] == [result["id"]]
    # the message to progress, written in the same transaction
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        rows = await conn.fetch("SELECT destination, method, path, body FROM outbox")
    finally:
        await conn.close()
    assert len(rows) == 1
    row = rows[0]
    assert (row["destination"], row["method"], row["path"]) == ("progress", "PUT", f"/v1/placements/{result['id']}")
    body = json.loads(row["body"])
    assert body["official"] == {"id": "official-2", "name": "이공무원", "org": "SEOUL-AI"}
    assert body["level"] == result["level"]
    assert abs(body["ability"] - result["ability"]) < 1e-5 and body["standard_error"] > 0
    assert body["completed_at"].endswith("Z")
    # session is completed; answering after the end is a 409; the session shows the result
    session = (await svc.client.get(f"/v1/sessions/{reply['session_id']}", headers=me)).json()
    assert session["status"] == "completed" and session["result"]["id"] == result["id"]


async def test_all_wrong_gives_level_zero(svc: Service, bank: Bank, keys: Keys) -> None:
    reply = await finish(svc.client, learner(keys, "official-3"), bank, right=False)
    assert reply["result"]["level"] <= 1
    assert reply["result"]["ability"] < -0.5


async def answer(client, sid: str, item: dict, choice: int, headers: dict):
    return await client.post(
        f"/v1/sessions/{sid}/answers",
        json={"position": item["position"], "item_id": item["item_id"], "choice": choice},
        headers=headers,
    )


async def test_replay_wrong_item_and_changed_answer(svc: Service, bank: Bank, keys: Keys) -> None:
    me = learner(keys, "official-4")
    s = (await svc.client.post("/v1/sessions", headers=me)).json()
    item = s["current_item"]
    r1 = await answer(svc.client, s["id"], item, 0, me)
    assert r1.status_code == 200
    r2 = await answer(svc.client, s["id"], item, 0, me)  # replay
    assert r2.status_code == 200 and r2.json() == r1.json()
    r3 = await answer(svc.client, s["id"], item, 1, me)  # a different answer to an answered position
    assert r3.status_code == 409 and r3.json()["type"] == "urn:lms:problem:answer-already-recorded"
    nxt = r1.json()["next_item"]
    wrong = {**nxt, "item_id": str(uuid.uuid4())}
    r4 = await answer(svc.client, s["id"], wrong, 0, me)
    assert r4.status_code == 409 and r4.json()["type"] == "urn:lms:problem:not-current-item"
    assert r4.json()["current_position"] == 2
    skip = {**nxt, "position": 5}
    r5 = await answer(svc.client, s["id"], skip, 0, me)
    assert r5.status_code == 409
    r6 = await answer(svc.client, s["id"], nxt, 4, me)  # 4 options: index 4 is out of range
    assert r6.status_code == 400 and r6.json()["errors"][0]["field"] == "choice"
    r7 = await svc.client.post(f"/v1/sessions/{s['id']}/answers", json={"position": "x"}, headers=me)
    assert r7.status_code == 400
    assert (await svc.client.get(f"/v1/sessions/{s['id']}", headers=me)).json()["answered"] == 1


async def test_answer_after_end_is_409_and_final_replay_is_same(svc: Service, bank: Bank, keys: Keys) -> None:
    me = learner(keys, "official-5")
    reply = await finish(svc.client, me, bank)
    sid = reply["session_id"]
    r = await svc.client.post(
        f"/v1/sessions/{sid}/answers",
        json={"position": reply["position"] + 1, "item_id": str(uuid.uuid4()), "choice": 0},
        headers=me,
    )
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:session-ended"


async def test_concurrent_same_answer_recorded_once(svc: Service, bank: Bank, keys: Keys, database_url: str) -> None:
    me = learner(keys, "official-6")
    s = (await svc.client.post("/v1/sessions", headers=me)).json()
    item = s["current_item"]
    replies = await asyncio.gather(*(answer(svc.client, s["id"], item, 2, me) for _ in range(8)))
    assert {r.status_code for r in replies} == {200}
    assert len({r.text for r in replies}) == 1
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        n = await conn.fetchval("SELECT count(*) FROM response WHERE session_id = $1", uuid.UUID(s["id"]))
        administered = await conn.fetchval("SELECT sum(administered) FROM version_item")
    finally:
        await conn.close()
    assert n == 1
    assert administered == 2  # the first item and the one next item, counted once each


async def test_replicas_share_a_session_and_memory_never_overrides_the_database(
    svc: Service, bank: Bank, keys: Keys, database_url: str
) -> None:
    """A process answers a session it wrote last from memory, without reading it; another replica
    moving the session, a replay sent to the replica that remembers the older state, and a change
    made in the database are all honoured (the write only applies to the state it started from)."""
    me = learner(keys, "official-replicas")
    a, live = svc.client, svc.app.state.placement_live
    async with client_for(make_app(database_url, min_items=6, max_items=8)) as b:
        s = (await a.post("/v1/sessions", headers=me)).json()
        sid = uuid.UUID(s["id"])
        assert sid in live.sessions  # started here: remembered
        item1 = s["current_item"]
        r1 = await answer(a, s["id"], item1, bank.answer[item1["item_id"]], me)
        assert r1.status_code == 200 and len(live.sessions[sid]["items"]) == 1
        item2 = r1.json()["next_item"]
        r2 = await answer(b, s["id"], item2, bank.answer[item2["item_id"]], me)  # the other replica moves it
        assert r2.status_code == 200 and len(live.sessions[sid]["items"]) == 1  # a stays one answer behind
        replay = await answer(a, s["id"], item2, bank.answer[item2["item_id"]], me)
        assert replay.status_code == 200 and replay.text == r2.text
        changed = await answer(a, s["id"], item2, (bank.answer[item2["item_id"]] + 1) % 4, me)
        assert changed.status_code == 409 and changed.json()["type"] == "urn:lms:problem:answer-already-recorded"
        item3 = r2.json()["next_item"]
        r3 = await answer(a, s["id"], item3, bank.answer[item3["item_id"]], me)  # a reads it again
        assert r3.status_code == 200 and r3.json()["answered"] == 3 and len(live.sessions[sid]["items"]) == 3
        # the session goes idle in the database while a remembers it as just answered
        conn = await asyncpg.connect(plain_url(database_url))
        try:
            await conn.execute(
                "UPDATE diagnostic_session SET last_activity_at = now() - interval '2 hours' WHERE id = $1", sid
            )
            item4 = r3.json()["next_item"]
            r4 = await answer(a, s["id"], item4, bank.answer[item4["item_id"]], me)
            assert r4.status_code == 409 and r4.json()["type"] == "urn:lms:problem:session-expired"
            assert sid not in live.sessions
            assert await conn.fetchval("SELECT count(*) FROM response WHERE session_id = $1", sid) == 3
            assert await conn.fetchval("SELECT status FROM diagnostic_session WHERE id = $1", sid) == "expired"
        finally:
            await conn.close()


async def test_concurrent_starts_make_one_session(svc: Service, bank: Bank, keys: Keys, database_url: str) -> None:
    me = learner(keys, "official-7")
    replies = await asyncio.gather(*(svc.client.post("/v1/sessions", headers=me) for _ in range(6)))
    assert sorted(r.status_code for r in replies).count(201) == 1
    assert {r.status_code for r in replies} <= {200, 201}
    assert len({r.json()["id"] for r in replies}) == 1
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        assert await conn.fetchval("SELECT count(*) FROM diagnostic_session WHERE official_id = 'official-7'") == 1
        assert await conn.fetchval("SELECT sessions_started FROM bank_version WHERE active") == 1
    finally:
        await conn.close()


async def test_other_learner_sees_404(svc: Service, bank: Bank, keys: Keys) -> None:
    me, other = learner(keys, "official-8"), learner(keys, "official-9")
    s = (await svc.client.post("/v1/sessions", headers=me)).json()
    r = await svc.client.get(f"/v1/sessions/{s['id']}", headers=other)
    assert r.status_code == 404 and r.json()["type"] == "urn:lms:problem:not-found"
    r = await answer(svc.client, s["id"], s["current_item"], 0, other)
    assert r.status_code == 404
    reply = await finish(svc.client, me, bank)
    r = await svc.client.get(f"/v1/results/{reply['result']['id']}", headers=other)
    assert r.status_code == 404
    assert (await svc.client.get("/v1/results", headers=other)).json()["items"] == []
    # roles: learners cannot administer, admins cannot take a diagnostic
    assert (await svc.client.get("/v1/items", headers=me)).status_code == 403
    assert (await svc.client.post("/v1/sessions", headers=keys.headers("admin"))).status_code == 403
    assert (await svc.client.post("/v1/sessions")).status_code == 401


async def test_expiry_then_new_session(database_url: str, keys: Keys) -> None:
    async with client_for(make_app(database_url, min_items=3, max_items=5, session_idle_minutes=0.01)) as c:
        bank = await load_bank(c, keys)
        me = learner(keys, "official-10")
        s = (await c.post("/v1/sessions", headers=me)).json()
        await asyncio.sleep(0.8)
        r = await answer(c, s["id"], s["current_item"], bank.answer[s["current_item"]["item_id"]], me)
        assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:session-expired"
        assert (await c.get(f"/v1/sessions/{s['id']}", headers=me)).json()["status"] == "expired"
        r = await c.post("/v1/sessions", headers=me)
        assert r.status_code == 201 and r.json()["id"] != s["id"]  # expiry does not start a cooldown


async def test_retake_cooldown_and_admin_grant(svc: Service, bank: Bank, keys: Keys) -> None:
    me = learner(keys, "official-11")
    await finish(svc.client, me, bank)
    r = await svc.client.post("/v1/sessions", headers=me)
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:retake-cooldown"
    assert "retry_after" in r.json()
    admin = keys.headers("admin", sub="admin-2")
    g1 = await svc.client.post(
        "/v1/admin/officials/official-11/retake-grants", json={"reason": "re-test"}, headers=admin
    )
    assert g1.status_code == 201 and g1.json()["used_at"] is None
    g2 = await svc.client.post("/v1/admin/officials/official-11/retake-grants", headers=admin)
    assert g2.status_code == 200 and g2.json()["id"] == g1.json()["id"]
    assert (await svc.client.post("/v1/admin/officials/official-11/retake-grants", headers=me)).status_code == 403
    starts = await asyncio.gather(*(svc.client.post("/v1/sessions", headers=me) for _ in range(4)))
    assert sorted(r.status_code for r in starts) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in starts}) == 1
    await finish(svc.client, me, bank)
    r = await svc.client.post("/v1/sessions", headers=me)  # the grant was used once
    assert r.status_code == 409


async def test_no_bank_published_is_clear(svc: Service, keys: Keys) -> None:
    r = await svc.client.post("/v1/sessions", headers=learner(keys, "official-12"))
    assert r.status_code == 503 and r.json()["type"] == "urn:lms:problem:no-active-bank"


async def test_session_keeps_its_bank_version(svc: Service, bank: Bank, keys: Keys) -> None:
    me = learner(keys, "official-13")
    s = (await svc.client.post("/v1/sessions", headers=me)).json()
    admin = keys.headers("admin")
    rows = bank_rows()
    for row in rows:
        row["b"] = row["b"] + 0.5
    assert (await svc.client.post("/v1/items/import", json=rows, headers=admin)).json()["updated"] == len(rows)
    v2 = await svc.client.post("/v1/bank/versions", json={"note": "shifted"}, headers=admin)
    assert v2.status_code == 201 and v2.json()["number"] == 2
    reply = await answer(svc.client, s["id"], s["current_item"], 0, me)
    assert reply.status_code == 200
    other = (await svc.client.post("/v1/sessions", headers=learner(keys, "official-14"))).json()
    conn_versions = {s["id"]: 1, other["id"]: 2}
    stats1 = (await svc.client.get("/v1/admin/stats", params={"version": 1}, headers=admin)).json()
    stats2 = (await svc.client.get("/v1/admin/stats", headers=admin)).json()
    assert stats1["sessions_started"] == 1 and stats2["sessions_started"] == 1
    assert stats2["bank_version"] == conn_versions[other["id"]]


async def test_rules_say_how_this_deployment_runs_the_diagnostic(svc: Service, keys: Keys) -> None:
    # the fixture's service runs 3-5 items; any signed-in person may read the rules, a peer may not
    for role in ("learner", "instructor", "admin"):
        r = await svc.client.get("/v1/rules", headers=keys.headers(role))
        assert r.status_code == 200, r.text
        assert r.json() == {
            "min_items": 3,
            "max_items": 5,
            "pretest_max": 0,  # the fixture turns pretest items off
            "levels": 5,
            "session_idle_minutes": 60.0,
            "retake_cooldown_days": 90.0,
        }
    assert (await svc.client.get("/v1/rules")).status_code == 401
