"""Fixtures for the progress service: a real app on a real port over a fresh migrated database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.progress.app import create_app
from services.progress.db import today
from services.progress.seed import programme
from services.progress.settings import get_settings
from tests.support import Keys, ServiceClient, service_client


class Service(ServiceClient):
    """The progress service as the tests see it, with tokens for each role and write helpers."""

    def __post_init__(self) -> None:
        self.admin = self.keys.headers("admin", sub="admin-1")
        self.service = self.keys.headers("service", sub="service:placement")

    def learner(self, sub: str) -> dict[str, str]:
        return self.keys.headers("learner", sub=sub, name=f"Name {sub}", org="ORG-A")

    def instructor(self, sub: str) -> dict[str, str]:
        return self.keys.headers("instructor", sub=sub)

    async def publish(self, doc: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create and publish a curriculum (the first publish has no officials to re-evaluate)."""
        r = await self.client.post("/v1/curricula", json=doc or programme(), headers=self.admin)
        assert r.status_code == 201, r.text
        r = await self.client.post(f"/v1/curricula/{r.json()['id']}/publish", headers=self.admin)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def place(
        self,
        official: str,
        level: int,
        *,
        result_id: str | None = None,
        completed_at: datetime | None = None,
        org: str = "ORG-A",
        expect: int = 201,
    ) -> dict[str, Any]:
        body = {
            "official": {"id": official, "name": f"Name {official}", "org": org},
            "level": level,
            "ability": 0.5,
            "standard_error": 0.3,
            "completed_at": (completed_at or datetime(2026, 3, 1, 9, tzinfo=UTC)).isoformat().replace("+00:00", "Z"),
        }
        r = await self.client.put(f"/v1/placements/{result_id or uuid.uuid4()}", json=body, headers=self.service)
        assert r.status_code == expect, r.text
        return dict(r.json())

    async def session(
        self, level: int, *, days: list[date] | None = None, seats: int = 20, instructor: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        days = days or [today() + timedelta(days=14 + i) for i in range(2)]
        body = {
            "level": level,
            "title": f"Level {level} session",
            "days": [d.isoformat() for d in days],
            "seats": seats,
            "instructor_id": instructor,
            **kw,
        }
        r = await self.client.post("/v1/sessions", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def enrol(self, session_id: str, official: str, *, key: str | None = None) -> httpx.Response:
        headers = self.learner(official)
        if key:
            headers["Idempotency-Key"] = key
        return await self.client.post(f"/v1/sessions/{session_id}/enrolments", json={}, headers=headers)

    async def admin_enrol(
        self, session_id: str, official: str, reason: str | None = "late registration"
    ) -> httpx.Response:
        body: dict[str, Any] = {"official_id": official}
        if reason:
            body["override_reason"] = reason
        return await self.client.post(f"/v1/sessions/{session_id}/enrolments", json=body, headers=self.admin)

    async def events(self, events: list[dict[str, Any]], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/v1/events", json={"events": events}, headers=headers or self.service)


def event(
    eid: str, official: str, module: str, verb: str, at: str = "2026-04-01T10:00:00Z", score: float | None = None
) -> dict[str, Any]:
    e: dict[str, Any] = {"id": eid, "official_id": official, "module": module, "verb": verb, "occurred_at": at}
    if score is not None:
        e["score"] = score
    return e


@pytest.fixture
def settings(database_url: str) -> Any:
    return get_settings(database_url=database_url, relay_enabled=False)


@pytest.fixture
async def svc(settings: Any, keys: Keys) -> AsyncIterator[Service]:
    async with service_client(create_app(settings), keys, Service, settings.database_url) as s:
        yield s


async def outbox_rows(database_url: str) -> list[dict[str, Any]]:
    import asyncpg

    from services.common.db import plain_url

    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return [
            dict(r)
            for r in await conn.fetch("SELECT destination, method, path, body::text AS body FROM outbox ORDER BY id")
        ]
    finally:
        await conn.close()


async def sql(database_url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    import asyncpg

    from services.common.db import plain_url

    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return [dict(r) for r in await conn.fetch(query, *args)]
    finally:
        await conn.close()
