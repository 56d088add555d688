"""201 answers carry the created resource's Location, and the Location answers that resource;
an idempotent replay answers the first result with the same Location."""

from __future__ import annotations

from services.progress.seed import programme
from tests.progress.conftest import Service

SERVICE = "progress"


async def test_locations_point_at_what_was_created(svc: Service) -> None:
    published = await svc.publish()
    r = await svc.client.get(f"/v1/curricula/{published['curriculum']['id']}", headers=svc.admin)
    assert r.status_code == 200

    r = await svc.client.post("/v1/curricula", json=programme("draft-2"), headers=svc.admin)
    assert r.status_code == 201
    got = await svc.client.get(r.headers["location"], headers=svc.admin)
    assert got.status_code == 200 and got.json() == r.json()

    body = {"level": 1, "title": "Level 1 session", "days": ["2099-01-05", "2099-01-06"], "seats": 1}
    headers = {**svc.admin, "Idempotency-Key": "create-1"}
    first = await svc.client.post("/v1/sessions", json=body, headers=headers)
    assert first.status_code == 201 and first.headers["location"] == f"/v1/sessions/{first.json()['id']}"
    got = await svc.client.get(first.headers["location"], headers=svc.admin)
    assert got.status_code == 200 and got.json() == first.json()
    again = await svc.client.post("/v1/sessions", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["location"] == first.headers["location"] and again.headers["idempotent-replayed"] == "true"

    await svc.place("a", 1)
    await svc.place("b", 1)
    seated = await svc.enrol(first.json()["id"], "a", key="enrol-a")
    waiting = await svc.enrol(first.json()["id"], "b")
    assert seated.status_code == waiting.status_code == 201
    assert waiting.json()["status"] == "waitlisted" and waiting.json()["waitlist_position"] == 1
    for created, who in ((seated, "a"), (waiting, "b")):
        location = created.headers["location"]
        assert location == f"/v1/enrolments/{created.json()['id']}"
        mine = await svc.client.get(location, headers=svc.learner(who))
        assert mine.status_code == 200 and mine.json() == created.json()
        assert (await svc.client.get(location, headers=svc.admin)).json() == created.json()
    # someone else's enrolment is not there for a learner
    assert (await svc.client.get(seated.headers["location"], headers=svc.learner("b"))).status_code == 404
    replay = await svc.enrol(first.json()["id"], "a", key="enrol-a")
    assert replay.status_code == 201 and replay.headers["location"] == seated.headers["location"]
