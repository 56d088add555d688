"""The learner dashboard and the admin reports (JSON and CSV)."""

from __future__ import annotations

import csv
import io

from tests.progress.conftest import Service, event
from tests.progress.test_events import complete_level_zero

SERVICE = "progress"


async def test_dashboard_next_steps_and_upcoming_days(svc: Service) -> None:
    await svc.publish()
    await svc.place("d1", 1)
    session = await svc.session(1)
    path = (await svc.client.get("/v1/me/path", headers=svc.learner("d1"))).json()
    assert path["next_step"]["kind"] == "session" and path["next_step"]["session_id"] == session["id"]
    assert path["levels"][1]["status"] == "current" and path["levels"][1]["percent_complete"] == 0.0
    assert path["levels"][1]["title_ko"] and path["levels"][1]["modules"][0]["code"] == "L1-M1"
    assert (await svc.enrol(session["id"], "d1")).status_code == 201
    await svc.events([event("d-1", "d1", "L1-M1", "completed")])
    path = (await svc.client.get("/v1/me/path", headers=svc.learner("d1"))).json()
    assert path["next_step"] == {
        "kind": "module",
        "detail": "Complete module L1-M2.",
        "module": "L1-M2",
        "session_id": None,
        "starts_on": None,
    }
    assert [d["day"] for d in path["upcoming_days"]] == session["days"]
    assert path["levels"][1]["percent_complete"] == 25.0  # 1 of 4 required (incl. the final)
    assert path["path_percent_complete"] == 6.2  # a quarter of the first of four levels in the path
    assert [e["status"] for e in path["enrolments"]] == ["enrolled"]
    # only your own: a learner never sees another's enrolments through /me
    assert (await svc.client.get("/v1/me/enrolments", headers=svc.learner("d2"))).json() == []


async def test_dashboard_shows_completed_level_and_certificate(svc: Service, database_url: str) -> None:
    await svc.publish()
    await complete_level_zero(svc, "d3")
    # the relay recorded the certificate (simulated here as certification's answer being stored)
    from tests.progress.conftest import sql

    await sql(
        database_url,
        "UPDATE level_completion SET certificate_id = '01939d3e-0000-7000-8000-000000000001', "
        "certificate_serial = 'LMS-2026-000001-7'",
    )
    path = (await svc.client.get("/v1/me/path", headers=svc.learner("d3"))).json()
    assert path["levels"][0]["status"] == "completed" and path["current_level"] == 1
    assert path["certificates"] == [
        {
            "level": 0,
            "completed_at": path["levels"][0]["completed_at"],
            "curriculum_version": "2026.1",
            "certificate_id": "01939d3e-0000-7000-8000-000000000001",
            "serial": "LMS-2026-000001-7",
            "status": "issued",
        }
    ]


async def test_reports_json_and_csv(svc: Service) -> None:
    await svc.publish()
    for i, org in enumerate(["ORG-A", "ORG-A", "ORG-B"]):
        await svc.place(f"r{i}", 0, org=org)
    s = await svc.session(0, seats=2)
    for i in range(3):
        await svc.enrol(s["id"], f"r{i}")
    await svc.session(1, seats=20)
    await complete_level_zero(svc, "r9")
    cap = (await svc.client.get("/v1/reports/capacity", headers=svc.admin)).json()
    assert cap["rows"][0]["level"] == 0 and cap["rows"][0]["seats_per_session"] == 20
    level0 = cap["rows"][0]
    assert (level0["sessions"], level0["seats"], level0["enrolled"], level0["waitlisted"]) == (2, 22, 3, 1)
    assert cap["rows"][1]["sessions"] == 1 and cap["rows"][1]["enrolled"] == 0
    by_session = (await svc.client.get("/v1/reports/capacity?by=session", headers=svc.admin)).json()
    assert len(by_session["rows"]) == 3
    funnel = (await svc.client.get("/v1/reports/completion", headers=svc.admin)).json()
    l0 = funnel["rows"][0]
    assert (l0["placed"], l0["reached"], l0["completed"], l0["in_progress"]) == (4, 4, 1, 3)
    assert l0["completion_rate"] == 0.25
    by_org = (await svc.client.get("/v1/reports/completion?by=org", headers=svc.admin)).json()
    assert {(r["org"], r["level"], r["placed"]) for r in by_org["rows"] if r["level"] == 0} == {
        ("ORG-A", 0, 3),
        ("ORG-B", 0, 1),
    }
    att = (await svc.client.get("/v1/reports/attendance", headers=svc.admin)).json()
    assert att["rows"][0]["present"] == 1 and att["rows"][0]["attendance_rate"] == 1.0
    r = await svc.client.get("/v1/reports/completion.csv?by=org", headers=svc.admin)
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["transfer-encoding"] == "chunked"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0].keys() >= {"org", "level", "completion_rate"} and len(rows) == len(by_org["rows"])
    r = await svc.client.get("/v1/reports/attendance.csv?by=session", headers=svc.admin)
    assert r.status_code == 200 and "attendance_rate" in r.text.splitlines()[0]
    assert (await svc.client.get("/v1/reports/capacity", headers=svc.learner("r0"))).status_code == 403
    r = await svc.client.get("/v1/reports/capacity.csv", headers=svc.admin)
    assert r.text.splitlines()[1].startswith("0,Introduction to data literacy,1,20,2,22,3,1,")
    assert (await svc.client.get("/v1/reports/capacity?by=week", headers=svc.admin)).status_code == 400
