"""Two replicas of every service on the same databases: relays and workers never deliver twice,
seats are never overbooked, and no certificate is issued twice."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from datetime import datetime, timedelta

import httpx

from services.demo import SEOUL, run_journey
from tests.e2e.stack import SERVICES, Stack
from tests.e2e.test_fault_tolerance import puts, query
from tests.support import free_port


async def test_two_replicas_never_duplicate_or_overbook(stack: Stack) -> None:
    second = {service: free_port() for service in SERVICES}
    stack.extra_env = {"LMS_LOG_LEVEL": "INFO"}
    for service in SERVICES:  # the first replicas restart with request logs on
        stack.stop(service)
        stack.start(service)
        stack.start(service, port=second[service])
    replicas = {s: [stack.base(s), f"http://127.0.0.1:{second[s]}"] for s in SERVICES}
    keys = stack.keys

    # 100 officials enrol concurrently into a 20-seat session, through both progress replicas.
    admin = keys.headers("admin")
    tomorrow = datetime.now(SEOUL).date() + timedelta(days=7)
    async with httpx.AsyncClient(timeout=30) as client:
        session = (
            await client.post(
                f"{replicas['progress'][0]}/v1/sessions",
                headers=admin,
                json={"level": 0, "title": "Replica race", "days": [tomorrow.isoformat()], "seats": 20},
            )
        ).json()
        officials = [f"race-{uuid.uuid4().hex[:8]}" for _ in range(100)]
        targets = itertools.cycle(replicas["progress"])

        async def enrol(official: str, base: str) -> str:
            response = await client.post(
                f"{base}/v1/sessions/{session['id']}/enrolments",
                headers={**admin, "Idempotency-Key": official},
                json={"official_id": official, "override_reason": "replica race test"},
            )
            assert response.status_code in (200, 201), response.text
            return str(response.json()["status"])

        statuses = await asyncio.gather(*(enrol(o, next(targets)) for o in officials))
        assert Counter(statuses) == {"enrolled": 20, "waitlisted": 80}
        detail = (await client.get(f"{replicas['progress'][1]}/v1/sessions/{session['id']}", headers=admin)).json()
        assert detail["enrolled"] == 20 and detail["waitlisted"] == 80

        # The same certificate requested through both certification replicas at once: one certificate.
        official = f"twice-{uuid.uuid4().hex[:8]}"
        body = {
            "official": {"id": official, "name": "Twice", "org": "CITY-01"},
            "completed_at": "2026-11-01T09:00:00Z",
            "curriculum_version": "2026.1",
        }
        service = keys.headers("service", sub="service:progress")
        answers = await asyncio.gather(
            *(
                client.put(f"{base}/v1/officials/{official}/levels/2/certificate", json=body, headers=service)
                for base in replicas["certification"] * 5
            )
        )
        assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
        assert len({a.json()["serial"] for a in answers}) == 1

    # The whole journey with both replicas' relays and webhook workers competing for the same rows.
    def mint(role: str, sub: str = "", name: str = "", org: str = "") -> str:
        return keys.token(role, sub=sub or role, name=name, org=org)

    summary = await run_journey({s: stack.base(s) for s in SERVICES}, mint, officials=20, seed=3)
    await asyncio.sleep(1.5)  # let any duplicate delivery land
    placements = puts(stack, "progress", r"^/v1/placements/")
    assert len(placements) == 20 and set(placements.values()) == {1}, placements
    certificates = puts(stack, "certification", r"/certificate$")
    # the two replica-race requests above, plus one per completed level from the relays
    relayed = {p: n for p, n in certificates.items() if official not in p}
    assert len(relayed) == summary.certificates and set(relayed.values()) == {1}, relayed
    issued = await query(
        stack.urls["certification"], "SELECT official_id, level, count(*) AS n FROM certificate GROUP BY 1, 2"
    )
    assert {r["n"] for r in issued} == {1}
    webhook_ids = Counter(w["id"] for w in summary.webhooks)
    assert set(webhook_ids.values()) == {1}
    async with httpx.AsyncClient() as client:
        for service in SERVICES:
            for base in replicas[service]:
                assert (await client.get(f"{base}/health/ready")).status_code == 200
