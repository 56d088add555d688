"""Placement intake over real HTTP: idempotency, conflicts, placed-out levels, re-placement."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.progress.conftest import Service, event

SERVICE = "progress"


async def test_intake_is_idempotent_on_result_id(svc: Service) -> None:
    await svc.publish()
    body = {
        "official": {"id": "o-1", "name": "김민수", "org": "SEOUL-01"},
        "level": 2,
        "ability": 0.41,
        "standard_error": 0.28,
        "completed_at": "2026-03-01T09:00:00Z",
    }
    first = await svc.client.put("/v1/placements/r-1", json=body, headers=svc.service)
    assert first.status_code == 201, first.text
    assert first.json()["applied"] is True and first.json()["current_level"] == 2
    again = await svc.client.put("/v1/placements/r-1", json=body, headers=svc.service)
    assert again.status_code == 200 and again.json() == first.json()
    changed = await svc.client.put("/v1/placements/r-1", json={**body, "level": 3}, headers=svc.service)
    assert changed.status_code == 409 and changed.json()["type"] == "urn:lms:problem:placement-conflict"
    assert "r-1" in changed.json()["detail"]
    # only the service role may call it
    r = await svc.client.put("/v1/placements/r-2", json=body, headers=svc.learner("o-1"))
    assert r.status_code == 403
    bad = await svc.client.put("/v1/placements/r-3", json={**body, "level": 7}, headers=svc.service)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "level"


async def test_path_marks_lower_levels_placed_out(svc: Service) -> None:
    await svc.publish()
    await svc.place("o-2", 2)
    r = await svc.client.get("/v1/me/path", headers=svc.learner("o-2"))
    assert r.status_code == 200, r.text
    path = r.json()
    statuses = [lv["status"] for lv in path["levels"]]
    assert statuses == ["placed_out", "placed_out", "current", "locked", "locked"]
    assert path["placed_level"] == 2 and path["current_level"] == 2 and path["certificates"] == []
    # someone else's path is not visible and a learner without a path gets a clear 404
    assert (await svc.client.get("/v1/me/path", headers=svc.learner("nobody"))).status_code == 404
    assert (await svc.client.get("/v1/officials/o-2/path", headers=svc.learner("o-3"))).status_code == 403
    assert (await svc.client.get("/v1/officials/o-2/path", headers=svc.admin)).json()["official_id"] == "o-2"


async def test_newer_placement_moves_path_only_without_activity_above(svc: Service) -> None:
    await svc.publish()
    await svc.place("o-3", 1, completed_at=datetime(2026, 3, 1, tzinfo=UTC))
    moved = await svc.place("o-3", 3, completed_at=datetime(2026, 3, 2, tzinfo=UTC))
    assert moved["applied"] is True and moved["current_level"] == 3
    older = await svc.place("o-3", 0, completed_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert older["applied"] is False and older["current_level"] == 3
    # progress at level 3 blocks a newer placement lower than it
    r = await svc.events([event("e-1", "o-3", "L3-M1", "started")])
    assert r.status_code == 200, r.text
    lower = await svc.place("o-3", 1, completed_at=datetime(2026, 3, 3, tzinfo=UTC))
    assert lower["applied"] is False and lower["current_level"] == 3 and "level(s) [3]" in lower["detail"]
    # a newer placement at or above the activity still applies
    up = await svc.place("o-3", 4, completed_at=datetime(2026, 3, 4, tzinfo=UTC))
    assert up["applied"] is True and up["current_level"] == 4
