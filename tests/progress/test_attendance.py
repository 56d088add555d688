"""Attendance rosters: instructors of the session only, days of the session only, one mark per
official and day, corrections audited."""

from __future__ import annotations

from datetime import timedelta

from services.progress.db import today
from tests.progress.conftest import Service, sql

SERVICE = "progress"


async def test_roster_uniqueness_corrections_and_audit(svc: Service, database_url: str) -> None:
    await svc.publish()
    days = [today() - timedelta(days=2), today() - timedelta(days=1)]
    s = await svc.session(1, days=days, instructor="t-1")
    other = await svc.session(1, days=days, instructor="t-2")
    for o in ("a1", "a2"):
        await svc.place(o, 1)
        assert (await svc.admin_enrol(s["id"], o)).status_code == 201
    url = f"/v1/sessions/{s['id']}/attendance/{days[0]}"
    roster = {"records": [{"official_id": "a1", "status": "present"}, {"official_id": "a2", "status": "late"}]}
    r = await svc.client.put(url, json=roster, headers=svc.instructor("t-1"))
    assert r.status_code == 200, r.text
    assert [(x["official_id"], x["status"], x["revision"]) for x in r.json()["records"]] == [
        ("a1", "present", 1),
        ("a2", "late", 1),
    ]
    # the same roster again changes nothing and adds no rows
    r = await svc.client.put(url, json=roster, headers=svc.instructor("t-1"))
    assert r.json()["changed"] == 0
    assert len(await sql(database_url, "SELECT 1 FROM attendance")) == 2
    # a correction needs a reason, and is audited
    fix = {"records": [{"official_id": "a2", "status": "excused"}]}
    r = await svc.client.put(url, json=fix, headers=svc.instructor("t-1"))
    assert r.status_code == 422 and r.json()["type"] == "urn:lms:problem:reason-required"
    r = await svc.client.put(url, json={**fix, "reason": "doctor's note"}, headers=svc.instructor("t-1"))
    assert r.status_code == 200 and r.json()["changed"] == 1
    assert [x["revision"] for x in r.json()["records"]] == [1, 2]
    audit = (await svc.client.get(f"/v1/sessions/{s['id']}/attendance/audit", headers=svc.admin)).json()
    assert [(a["official_id"], a["old_status"], a["new_status"], a["reason"]) for a in audit] == [
        ("a1", None, "present", None),
        ("a2", None, "late", None),
        ("a2", "late", "excused", "doctor's note"),
    ]
    # duplicates in one roster
    dup = {"records": [{"official_id": "a1", "status": "present"}, {"official_id": "a1", "status": "absent"}]}
    r = await svc.client.put(url, json=dup, headers=svc.instructor("t-1"))
    assert r.status_code == 400 and r.json()["errors"][0]["index"] == 1
    # days outside the session, and future days
    r = await svc.client.put(
        f"/v1/sessions/{s['id']}/attendance/{today() - timedelta(days=5)}", json=roster, headers=svc.instructor("t-1")
    )
    assert r.status_code == 422 and r.json()["type"] == "urn:lms:problem:day-outside-session"
    future = await svc.session(1, instructor="t-1")
    r = await svc.client.put(
        f"/v1/sessions/{future['id']}/attendance/{future['days'][0]}",
        json={"records": [{"official_id": "a1", "status": "present"}]},
        headers=svc.instructor("t-1"),
    )
    assert r.status_code == 422
    # officials not enrolled in the session are listed
    r = await svc.client.put(
        url, json={"records": [{"official_id": "ghost", "status": "present"}]}, headers=svc.instructor("t-1")
    )
    assert r.status_code == 422 and r.json()["errors"] == [
        {"index": 0, "official_id": "ghost", "reason": "not enrolled in this session"}
    ]
    # an instructor of another session may not record or read this one
    r = await svc.client.put(url, json=roster, headers=svc.instructor("t-2"))
    assert r.status_code == 403 and r.json()["type"] == "urn:lms:problem:not-your-session"
    assert (
        await svc.client.get(f"/v1/sessions/{s['id']}/attendance", headers=svc.instructor("t-2"))
    ).status_code == 403
    assert (await svc.client.get(f"/v1/sessions/{other['id']}/attendance", headers=svc.instructor("t-2"))).json() == []
    # learners cannot record attendance at all
    assert (await svc.client.put(url, json=roster, headers=svc.learner("a1"))).status_code == 403
    listed = (await svc.client.get(f"/v1/sessions/{s['id']}/attendance", headers=svc.instructor("t-1"))).json()
    assert [(x["official_id"], x["status"]) for x in listed] == [("a1", "present"), ("a2", "excused")]
