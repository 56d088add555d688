"""Every bad field of a body in one problem, on several routes of each service, over real HTTP."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support import Keys, client_for, create_database


@pytest.fixture(params=["placement", "progress", "certification"])
async def service_client(
    request: pytest.FixtureRequest, pg_admin: str, keys: Keys
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    service = request.param
    url = await create_database(pg_admin, service)
    settings = importlib.import_module(f"services.{service}.settings").get_settings(
        database_url=url, relay_enabled=False
    )
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    async with client_for(app) as client:
        yield service, client


ROLE_BY_SERVICE = {"placement": "admin", "progress": "admin", "certification": "hr"}

# service -> (method, path, body, the fields that must all be named)
CASES: dict[str, list[tuple[str, str, Any, set[str]]]] = {
    "progress": [
        ("POST", "/v1/sessions", {"level": 7, "days": ["2020-13-01"], "seats": 0}, {"level", "days[0]", "seats"}),
        (
            "POST",
            "/v1/events",
            {"events": [{"id": "", "official_id": "o-1", "module": "m", "verb": "nope", "occurred_at": "later"}]},
            {"events[0].id", "events[0].verb", "events[0].occurred_at"},
        ),
        (
            "POST",
            "/v1/officials/o-1/waivers",
            {"level": -1, "target": "everything", "reason": "", "extra": 1},
            {"level", "target", "reason", "extra"},
        ),
    ],
    "placement": [
        (
            "POST",
            "/v1/items",
            {"code": "no spaces!", "domain": "d", "stem": "s", "options": ["a", "b"], "answer": "first", "a": "x"},
            {"code", "answer", "a", "b"},
        ),
        (
            "POST",
            "/v1/admin/officials/o-1/retake-grants",
            {"reason": 5, "unknown": True},
            {"reason", "unknown"},
        ),
    ],
    "certification": [
        ("POST", "/v1/webhooks/subscriptions", {"url": "x", "event_types": []}, {"url", "event_types"}),
        ("POST", "/v1/webhooks/subscriptions", {}, {"url", "event_types"}),
    ],
}


async def test_every_bad_field_is_reported_at_once(service_client: tuple[str, httpx.AsyncClient], keys: Keys) -> None:
    service, client = service_client
    headers = {"Authorization": f"Bearer {keys.token(ROLE_BY_SERVICE[service])}"}
    for method, path, body, fields in CASES[service]:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 400, (path, r.text)
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        named = {e["field"] for e in problem["errors"]}
        assert fields <= named, (path, problem["errors"])
        for field in fields:
            assert field in problem["detail"], (path, problem["detail"])
