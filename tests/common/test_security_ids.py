"""One official-id rule at every edge; a missing name; dead and long-retrying outbox messages are
visible (admin API and metrics) and can be resent."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import pytest

from services.common.db import plain_url
from services.common.ids import OfficialId, is_official_id
from services.progress.app import create_app
from services.progress.settings import get_settings
from tests.support import Keys, client_for

SERVICE = "progress"
BAD_IDS = ["a/b", "x" * 129, "", "with space", "김민수", "-leading", "line\n", "a%2Fb"]
GOOD_IDS = ["a", "x" * 128, "official-1", "3f2a9c0e-1111-4222-8333-944445555666", "kim@seoul.go.kr", "urn:x:1"]


@pytest.mark.parametrize("value", BAD_IDS)
def test_bad_ids_are_refused_by_the_kernel_type_and_check_alike(value: str) -> None:
    assert not is_official_id(value)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(value, OfficialId)


@pytest.mark.parametrize("value", GOOD_IDS)
def test_good_ids_pass_both(value: str) -> None:
    assert is_official_id(value) and msgspec.convert(value, OfficialId) == value


@pytest.fixture
async def client(database_url: str):
    async with client_for(create_app(get_settings(database_url=database_url, relay_enabled=False))) as c:
        yield c


async def test_every_edge_applies_the_rule(client, keys: Keys) -> None:
    # the token's subject (placement takes the official from it) ...
    for bad in ("x" * 129, "a/b"):
        r = await client.get("/v1/whoami", headers=keys.headers("learner", sub=bad))
        assert r.status_code == 401 and "sub" in r.json()["detail"], r.text
    assert (await client.get("/v1/whoami", headers=keys.headers("learner", sub="x" * 128))).status_code == 200
    # ... and the bodies that carry one (progress's placement intake)
    service = keys.headers("service", sub="service:placement")
    for bad in ("x" * 129, "a/b"):
        body = {
            "official": {"id": bad, "name": "Kim", "org": "O"},
            "level": 0,
            "ability": 0.0,
            "standard_error": 0.3,
            "completed_at": "2026-11-01T09:00:00Z",
        }
        r = await client.put(f"/v1/placements/{uuid.uuid4()}", json=body, headers=service)
        assert r.status_code == 400 and "official.id" in r.text, r.text


async def test_a_learner_without_a_name_still_gets_a_certificate(pg_admin: str, keys: Keys) -> None:
    from tests.certification.conftest import running
    from tests.support import create_database

    url = await create_database(pg_admin, "certification")
    async with running(url, keys) as svc:
        r = await svc.client.put(
            "/v1/officials/no-name-1/levels/0/certificate",
            json={"official": {"id": "no-name-1"}, "completed_at": "2026-11-01T09:00:00Z", "curriculum_version": "v"},
            headers=svc.h("service", sub="service:progress"),
        )
        assert r.status_code == 201, r.text
        verified = (await svc.client.get(f"/v1/verify/{r.json()['serial']}")).json()
        assert verified["holder_name"] == "no-name-1"


async def test_dead_and_retrying_messages_are_listed_counted_and_resent(client, keys: Keys, database_url: str) -> None:
    dead, retrying, fresh = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        for message_id, attempts, dead_at, error in (
            (dead, 1, "now()", "HTTP 400: official.name: expected length >= 1"),
            (retrying, 9, "NULL", "ConnectError"),
            (fresh, 0, "NULL", None),
        ):
            await conn.execute(
                "INSERT INTO outbox (message_id, destination, method, path, body, request_id, created_at,"
                f" next_attempt_at, attempts, last_error, dead_at) VALUES ($1, 'certification', 'PUT', '/v1/x', '{{}}',"
                f" '', now(), now() + interval '1 hour', $2, $3, {dead_at})",
                message_id,
                attempts,
                error,
            )
    finally:
        await conn.close()
    admin = keys.headers("admin")
    r = await client.get("/v1/admin/outbox", params={"state": "dead"}, headers=admin)
    assert r.status_code == 200, r.text
    assert [(m["message_id"], m["state"], m["last_error"][:8]) for m in r.json()["items"]] == [
        (str(dead), "dead", "HTTP 400")
    ]
    r = await client.get("/v1/admin/outbox", params={"state": "retrying"}, headers=admin)
    assert [m["message_id"] for m in r.json()["items"]] == [str(retrying)]
    assert (await client.get("/v1/admin/outbox", headers=keys.headers("learner"))).status_code == 403
    metrics = (await client.get("/metrics", headers=admin)).text
    assert 'lms_outbox_dead_messages{destination="certification"} 1.0' in metrics
    assert 'lms_outbox_retrying_messages{destination="certification"} 1.0' in metrics
    r = await client.post(f"/v1/admin/outbox/{dead}/resend", headers=admin)
    assert r.status_code == 200 and r.json()["state"] == "pending" and r.json()["attempts"] == 0, r.text
    assert (await client.get("/v1/admin/outbox", params={"state": "dead"}, headers=admin)).json()["items"] == []
    assert (await client.post(f"/v1/admin/outbox/{uuid.uuid4()}/resend", headers=admin)).status_code == 404
