"""Progress at the edge: instructors record only for the levels they teach; reported moments
must be believable."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.progress.app import create_app
from services.progress.settings import get_settings
from tests.progress.conftest import Service, event
from tests.support import Keys, service_client

SERVICE = "progress"


@pytest.fixture
async def api(database_url: str, keys: Keys) -> AsyncIterator[Service]:
    settings = get_settings(database_url=database_url, relay_enabled=False)
    async with service_client(create_app(settings), keys, Service, database_url) as svc:
        yield svc


async def test_instructors_record_only_modules_of_the_levels_they_teach(api: Service) -> None:
    await api.publish()
    await api.place("taught", 0)
    s = await api.session(0, instructor="t-1")
    assert (await api.enrol(s["id"], "taught")).status_code == 201
    h = api.instructor("t-1")
    r = await api.events(
        [
            event("a", "taught", "L0-Q", "passed", score=90),
            event("b", "taught", "L2-M1", "attended"),
            event("c", "taught", "L4-M1", "passed", score=100),
        ],
        headers=h,
    )
    assert r.status_code == 422, r.text
    assert [(e["id"], "not in a level you teach" in e["reason"]) for e in r.json()["errors"]] == [
        ("b", True),
        ("c", True),
    ]
    r = await api.events([event("a", "taught", "L0-Q", "passed", score=90)], headers=h)
    assert r.status_code == 200 and r.json()["accepted"] == 1


@pytest.mark.parametrize("at", ["2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z", 0])
async def test_learning_events_must_be_dated_near_now(api: Service, at: object) -> None:
    await api.publish()
    r = await api.events([{**event("x", "o", "L0-M1", "started"), "occurred_at": at}])
    assert r.status_code == 400, r.text
    assert "occurred_at" in r.text


@pytest.mark.parametrize("at", ["2099-01-01T00:00:00Z", 0])
async def test_placements_must_be_dated_near_now(api: Service, at: object) -> None:
    await api.publish()
    body = {
        "official": {"id": "o-1", "name": "Kim", "org": "ORG-A"},
        "level": 1,
        "ability": 0.1,
        "standard_error": 0.3,
        "completed_at": at,
    }
    r = await api.client.put("/v1/placements/r-1", json=body, headers=api.service)
    assert r.status_code == 400 and "completed_at" in r.text, r.text


async def test_deep_xapi_statements_and_agents_are_400(api: Service) -> None:
    headers = {**api.admin, "X-Experience-API-Version": "1.0.3"}
    deep = '{"actor": ' + "[" * 5000 + "]" * 5000 + "}"
    for content_type in ("application/json", "text/plain"):
        r = await api.client.post("/xapi/statements", content=deep, headers={**headers, "content-type": content_type})
        assert r.status_code == 400 and r.json()["type"] == "urn:lms:problem:too-deep", r.text
    r = await api.client.get("/xapi/statements", params={"agent": "[" * 3000 + "]" * 3000}, headers=headers)
    assert r.status_code == 400, r.text
