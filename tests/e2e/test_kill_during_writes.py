"""`kill -9` a service in the middle of a burst of writes: every write it acknowledged is still
there after it comes back, and it comes back healthy."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from tests.e2e.stack import Stack, wait_ready


async def test_acknowledged_certificates_survive_kill_9(stack: Stack) -> None:
    base = stack.base("certification")
    service = stack.keys.headers("service", sub="service:progress")
    acknowledged: dict[str, dict] = {}
    killed = asyncio.Event()

    async def issue(client: httpx.AsyncClient, i: int) -> None:
        official = f"burst-{i:04d}"
        body = {
            "official": {"id": official, "name": f"Official {i}", "org": "CITY-01"},
            "completed_at": "2026-11-01T09:00:00Z",
            "curriculum_version": "2026.1",
        }
        with contextlib.suppress(httpx.HTTPError):
            response = await client.put(
                f"{base}/v1/officials/{official}/levels/1/certificate", json=body, headers=service
            )
            if response.status_code in (200, 201):
                acknowledged[official] = response.json()
        if len(acknowledged) >= 40 and not killed.is_set():
            killed.set()
            stack.kill("certification")  # SIGKILL: no shutdown, no flush

    async with httpx.AsyncClient(timeout=5) as client:
        pending = iter(range(400))

        async def worker() -> None:
            for i in pending:
                await issue(client, i)

        await asyncio.gather(*(worker() for _ in range(8)))
    assert killed.is_set() and 40 <= len(acknowledged) < 400

    stack.start("certification")
    wait_ready(base)
    hr = stack.keys.headers("hr")
    async with httpx.AsyncClient(timeout=10) as client:
        for official, certificate in acknowledged.items():
            response = await client.get(f"{base}/v1/certificates/{certificate['id']}", headers=hr)
            assert response.status_code == 200, (official, response.text)
            assert response.json()["serial"] == certificate["serial"]
        # and the service works as before: a repeat returns the same certificate
        official, certificate = next(iter(acknowledged.items()))
        body = {
            "official": {"id": official, "name": "x", "org": "CITY-01"},
            "completed_at": "2026-11-01T09:00:00Z",
            "curriculum_version": "2026.1",
        }
        again = await client.put(f"{base}/v1/officials/{official}/levels/1/certificate", json=body, headers=service)
        assert again.status_code == 200 and again.json()["id"] == certificate["id"]
