"""Certification fixtures: the real app on a real port over a fresh, migrated database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.certification.app import create_app
from services.certification.settings import get_settings
from tests.support import Keys, ServiceClient, free_port, service_client


class Service(ServiceClient):
    """The certification service as the tests see it, with an issuing helper."""

    async def issue(
        self, official_id: str | None = None, level: int = 2, name: str = "김민수", org: str = "SEOUL-01"
    ) -> httpx.Response:
        official_id = official_id or f"off-{uuid.uuid4().hex[:10]}"
        return await self.client.put(
            f"/v1/officials/{official_id}/levels/{level}/certificate",
            json={
                "official": {"id": official_id, "name": name, "org": org},
                "completed_at": "2026-05-01T06:00:00Z",
                "curriculum_version": "2026.1",
            },
            headers=self.h("service", sub="service:progress"),
        )


@contextlib.asynccontextmanager
async def running(database_url: str, keys: Keys, **overrides: Any) -> AsyncIterator[Service]:
    port = free_port()
    settings = get_settings(
        database_url=database_url,
        relay_enabled=False,
        public_url=overrides.pop("public_url", f"http://127.0.0.1:{port}"),
        **{"webhook_poll_seconds": 0.2, **overrides},
    )
    app = create_app(settings)
    async with service_client(app, keys, Service, database_url, port) as service:
        yield service


@pytest.fixture
async def svc(database_url: str, keys: Keys) -> AsyncIterator[Service]:
    async with running(database_url, keys) as service:
        yield service
