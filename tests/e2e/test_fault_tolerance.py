"""Stop each receiver in the middle of the flow, keep producing, restart it: every message
arrives exactly once (placement -> progress, progress -> certification, certification -> HR)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import uvicorn

from services.common.db import plain_url
from services.demo import (
    Client,
    HookReceiver,
    Official,
    item_bank,
    module_events,
    required_modules,
    run_cohort,
    send_events,
    take_diagnostic,
)
from tests.e2e.stack import SERVICES, Stack, eventually, provision
from tests.support import Keys, free_port


async def query(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_url(url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def puts(stack: Stack, service: str, pattern: str) -> Counter[str]:
    """Successful PUT requests the service logged, by path (its JSON request log)."""
    seen: Counter[str] = Counter()
    for line in stack.log(service).splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "request" and entry.get("method") == "PUT" and re.search(pattern, entry["path"]):
                if entry["status"] in (200, 201):
                    seen[entry["path"]] += 1
    return seen


async def test_every_message_arrives_exactly_once_across_restarts(pg_admin: str, keys: Keys, tmp_path: Path) -> None:
    stack = await provision(pg_admin, keys, tmp_path)
    stack.extra_env = {
        "LMS_LOG_LEVEL": "INFO",  # the receivers' request logs are the evidence
        "LMS_CERTIFICATION_WEBHOOK_BACKOFF_BASE": "0.2",
        "LMS_CERTIFICATION_WEBHOOK_BACKOFF_CAP": "1.0",
        "LMS_CERTIFICATION_WEBHOOK_POLL_SECONDS": "0.2",
    }
    rng = random.Random(5)

    def mint(role: str, sub: str = "", name: str = "", org: str = "") -> str:
        return keys.token(role, sub=sub or role, name=name, org=org)

    for service in SERVICES:
        stack.start(service)
    client = Client({s: stack.base(s) for s in SERVICES}, mint)
    admin, hr = mint("admin", "admin-ft"), mint("hr", "hr-ft")
    instructor = ("instructor-ft", mint("instructor", "instructor-ft"))
    run = uuid.uuid4().hex[:6]
    people = [
        Official(f"ft-{run}-{i}", f"Official {i}", "CITY-01", ability)
        for i, ability in enumerate([-1.0, 0.0, 1.0, 2.0])
    ]
    hook_port = free_port()
    receiver = HookReceiver()
    try:
        # HR subscribes a receiver that is not listening yet.
        subscription = await client.call(
            "certification",
            "POST",
            "/v1/webhooks/subscriptions",
            hr,
            json={"url": f"http://127.0.0.1:{hook_port}/hooks", "event_types": ["certificate.issued"]},
        )
        receiver.secret = subscription["secret"]

        # 1. placement -> progress, with progress down while diagnostics finish.
        stack.stop("progress")
        bank = await item_bank(client, admin)  # every page: the seed bank has more than 500 items
        for official in people:
            await take_diagnostic(client, official, bank, rng)

        async def placement_retried() -> bool:
            rows = await query(stack.urls["placement"], "SELECT attempts, last_error, delivered_at FROM outbox")
            return len(rows) == len(people) and all(r["attempts"] >= 1 and r["last_error"] for r in rows)

        await eventually(placement_retried)
        stack.start("progress")

        async def placements_delivered() -> bool:
            rows = await query(stack.urls["placement"], "SELECT delivered_at FROM outbox")
            return all(r["delivered_at"] for r in rows)

        await eventually(placements_delivered)
        received = puts(stack, "progress", r"^/v1/placements/")
        assert len(received) == len(people) and set(received.values()) == {1}, received
        stored = await query(stack.urls["progress"], "SELECT count(*) AS n FROM placement_result")
        assert stored[0]["n"] == len(people)

        # 2. progress -> certification, with certification down while levels complete.
        stack.stop("certification")
        curriculum = await client.call("progress", "GET", "/v1/curricula/current", admin)
        by_level: dict[int, list[Official]] = {}
        for official in people:
            by_level.setdefault(official.level, []).append(official)
        for level, group in by_level.items():
            await run_cohort(client, admin, instructor, level, group, len(group), run, rng)
        events = [e for o in people for e in module_events(o, required_modules(curriculum, o.level), rng)]
        _, completed = await send_events(client, admin, events)
        assert completed == len(people)

        async def certificates_retried() -> bool:
            rows = await query(stack.urls["progress"], "SELECT attempts, delivered_at FROM outbox")
            return len(rows) == len(people) and all(r["attempts"] >= 1 and not r["delivered_at"] for r in rows)

        await eventually(certificates_retried)
        stack.start("certification")

        async def certificates_delivered() -> bool:
            rows = await query(stack.urls["progress"], "SELECT delivered_at FROM outbox")
            return all(r["delivered_at"] for r in rows)

        await eventually(certificates_delivered)
        received = puts(stack, "certification", r"/certificate$")
        assert len(received) == len(people) and set(received.values()) == {1}, received
        issued = await query(
            stack.urls["certification"], "SELECT official_id, count(*) AS n FROM certificate GROUP BY 1"
        )
        assert sorted(r["official_id"] for r in issued) == sorted(o.id for o in people)
        assert {r["n"] for r in issued} == {1}

        # 3. certification -> HR: the receiver comes up after the deliveries started failing.
        async def webhooks_retried() -> bool:
            rows = await query(stack.urls["certification"], "SELECT attempts FROM webhook_delivery")
            return len(rows) == len(people) and all(r["attempts"] >= 1 for r in rows)

        await eventually(webhooks_retried)
        server = uvicorn.Server(
            uvicorn.Config(receiver, host="127.0.0.1", port=hook_port, log_config=None, lifespan="off")
        )
        task = asyncio.create_task(server.serve())
        try:

            async def all_hooks() -> bool:
                return len(receiver.received) >= len(people)

            await eventually(all_hooks)
            await asyncio.sleep(1.5)  # a duplicate delivery would arrive now
        finally:
            server.should_exit = True
            await task
        ids = Counter(w["id"] for w in receiver.received)
        assert len(ids) == len(people) and set(ids.values()) == {1}, ids
        assert receiver.bad == 0
        assert sorted(w["data"]["serial"] for w in receiver.received) == sorted(
            r["serial"] for r in await query(stack.urls["certification"], "SELECT serial FROM certificate")
        )
    finally:
        await client.aclose()
        stack.stop_all()
