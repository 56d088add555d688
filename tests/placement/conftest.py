"""Placement test helpers: an app on a real port against a fresh migrated database, and a
small bilingual bank loaded through the real import and publish endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.placement.app import create_app
from services.placement.domain.bank import DOMAINS
from services.placement.settings import get_settings
from tests.support import Keys, ServiceClient, service_client

DOMAIN_NAMES = list(DOMAINS)


def bank_rows(per_domain: int = 8, pretest: int = 0) -> list[dict[str, Any]]:
    rows = []
    for d, domain in enumerate(DOMAIN_NAMES):
        for k in range(per_domain + pretest):
            rows.append(
                {
                    "code": f"T-{d}-{k:03d}",
                    "domain": domain,
                    "a": 1.0 + 0.1 * (k % 7),
                    "b": -2.0 + 4.0 * k / max(per_domain - 1, 1),
                    "c": 0.1,
                    "stem": {"ko": f"문항 {d}-{k}", "en": f"Question {d}-{k}"},
                    "options": [{"ko": f"보기 {j}", "en": f"Option {j}"} for j in range(4)],
                    "answer": (d + k) % 4,
                    "status": "pretest" if k >= per_domain else "active",
                }
            )
    return rows


def make_app(database_url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {"database_url": database_url, "relay_enabled": False, "pretest_rate": 0.0}
    values.update(overrides)
    return create_app(get_settings(**values))


class Service(ServiceClient):
    """The placement service as the tests see it (the shared shape; no extra helpers yet)."""


@pytest.fixture
async def svc(database_url: str, keys: Keys) -> AsyncIterator[Service]:
    async with service_client(make_app(database_url, min_items=3, max_items=5), keys, Service, database_url) as s:
        yield s


class Bank:
    """What the tests know about the loaded bank: item id -> answer and code."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.answer = {i["id"]: i["answer"] for i in items}
        self.code = {i["id"]: i["code"] for i in items}


async def load_bank(client: httpx.AsyncClient, keys: Keys, rows: list[dict[str, Any]] | None = None) -> Bank:
    admin = keys.headers("admin", sub="admin-1")
    r = await client.post("/v1/items/import", json=rows or bank_rows(), headers=admin)
    assert r.status_code == 200, r.text
    r = await client.post("/v1/bank/versions", json={"note": "test"}, headers=admin)
    assert r.status_code in (200, 201), r.text
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await client.get(
            "/v1/items", params={"limit": 500, **({"cursor": cursor} if cursor else {})}, headers=admin
        )
        assert r.status_code == 200
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return Bank(items)


@pytest.fixture
async def bank(svc: Service, keys: Keys) -> Bank:
    return await load_bank(svc.client, keys)


def learner(keys: Keys, sub: str, name: str = "Kim Official", org: str = "SEOUL-DATA") -> dict[str, str]:
    return keys.headers("learner", sub=sub, name=name, org=org)


async def finish(client: httpx.AsyncClient, headers: dict[str, str], bank: Bank, right: bool = True) -> dict[str, Any]:
    """Start (or resume) a session and answer until it completes; returns the last answer reply."""
    r = await client.post("/v1/sessions", headers=headers)
    assert r.status_code in (200, 201), r.text
    session = r.json()
    item = session["current_item"]
    for _ in range(100):
        key = bank.answer[item["item_id"]]
        choice = key if right else (key + 1) % 4
        r = await client.post(
            f"/v1/sessions/{session['id']}/answers",
            json={"position": item["position"], "item_id": item["item_id"], "choice": choice},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        reply = r.json()
        if reply["status"] == "completed":
            return reply
        item = reply["next_item"]
    raise AssertionError("the session never completed")
