"""Learning-event ingestion through the real progress service (one uvicorn process) against a bare
asyncpg set-based INSERT of the same events into the same table, measured in the same run:

- batches of 100 events (target >= 3,000 events/s),
- single-event requests (target >= 500 req/s, p99 <= 50 ms),
- replaying duplicates in batches of 1,000 (target >= 10,000 events/s).

    .venv/bin/python bench/bench_progress_events.py [--batches N] [--singles N] [--concurrency C] [--database-url URL]

Event ids carry a random run prefix, so a run against an existing database stores new events.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg
import msgspec
from _common import FastClient, Reply, Result, console, fresh_database, report, run_load, service, token

from services.common.db import plain_url
from services.progress.seed import seed
from tests.support import free_port

MODULES = ["L0-M1", "L0-M2", "L0-M3", "L1-M1", "L1-M2", "L1-M4", "L2-M1", "L2-M2", "L3-M1", "L3-M2"]
VERBS = ["started", "completed", "started", "completed"]


def make_event(prefix: str, i: int) -> dict[str, object]:
    return {
        "id": f"{prefix}-{i}",
        "official_id": f"bench-{i % 5000}",
        "module": MODULES[i % len(MODULES)],
        "verb": VERBS[i % len(VERBS)],
        "occurred_at": f"2026-04-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
    }


def batch_body(prefix: str, start: int, size: int) -> bytes:
    return msgspec.json.encode({"events": [make_event(prefix, start + j) for j in range(size)]})


async def bare_insert(url: str, batches: int, size: int, concurrency: int, run_id: str) -> Result:
    """The ceiling: the same rows through one unnest INSERT per batch, no HTTP, no merge."""
    pool = await asyncpg.create_pool(plain_url(url), min_size=concurrency, max_size=concurrency)
    result = Result(f"bare asyncpg INSERT, batches of {size}")
    counter = iter(range(batches))
    sql = (
        "INSERT INTO learning_event (event_id, official_id, module_code, verb, score, occurred_at, content_hash, "
        "source, received_at) SELECT e, o, m, v, NULL, t, 'x', 'bare', now() "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(e, o, m, v, t)"
    )
    from datetime import datetime

    async def worker() -> None:
        async with pool.acquire() as conn:
            for b in counter:
                events = [make_event(f"bare{run_id}", b * size + j) for j in range(size)]
                started = time.perf_counter()
                await conn.execute(
                    sql,
                    [str(e["id"]) for e in events],
                    [str(e["official_id"]) for e in events],
                    [str(e["module"]) for e in events],
                    [str(e["verb"]) for e in events],
                    [datetime.fromisoformat(str(e["occurred_at"])) for e in events],
                )
                result.latencies.append(time.perf_counter() - started)
                result.units += size

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    await pool.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=300, help="batches of 100 events")
    parser.add_argument("--singles", type=int, default=5000, help="single-event requests")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default="", help="ingest into this database (e.g. one at national scale)")
    args = parser.parse_args()
    url = args.database_url or fresh_database("progress")
    console.print(asyncio.run(seed(url)))
    auth = {"Authorization": f"Bearer {token('service', sub='service:bench')}"}
    run_id = uuid.uuid4().hex[:6]
    bodies = [batch_body(f"b{run_id}", i * 100, 100) for i in range(args.batches)]
    replay = [batch_body(f"b{run_id}", i * 1000, 1000) for i in range(args.batches // 10)]

    async def post(client: FastClient, body: bytes) -> Reply:
        return await client.request("POST", "/v1/events", headers=auth, body=body)

    with service("progress", url, free_port()) as base:

        async def run() -> list[Result]:
            await run_load(
                "warm-up",
                lambda c, i: post(c, batch_body(f"w{run_id}", i * 10, 10)),
                base_url=base,
                total=100,
                concurrency=4,
            )
            batches = await run_load(
                "POST /v1/events, batches of 100",
                lambda c, i: post(c, bodies[i]),
                base_url=base,
                total=len(bodies),
                concurrency=args.concurrency,
                units_per_request=100,
            )
            singles = await run_load(
                "POST /v1/events, one event per request",
                lambda c, i: post(c, batch_body(f"s{run_id}", i, 1)),
                base_url=base,
                total=args.singles,
                concurrency=args.concurrency,
            )
            dupes = await run_load(
                "replaying duplicates, batches of 1,000",
                lambda c, i: post(c, replay[i]),
                base_url=base,
                total=len(replay),
                concurrency=args.concurrency,
                units_per_request=1000,
                ok=lambda r: r.is_success and b'"accepted":0' in r.body,
            )
            health = await run_load(
                "GET /health/live (same process)",
                lambda c, i: c.request("GET", "/health/live"),
                base_url=base,
                total=args.singles,
                concurrency=args.concurrency,
            )
            return [batches, singles, dupes, health]

        batches, singles, dupes, health = asyncio.run(run())
    bare = asyncio.run(bare_insert(url, args.batches, 100, args.concurrency, run_id))
    report("Event ingestion (events/s)", [batches, dupes], unit="events/s", ceiling=bare)
    report("Single-event requests (req/s)", [singles], unit="req/s", ceiling=health)
    console.print(
        f"targets: batches >= 3,000 events/s -> {batches.rate:,.0f}; singles >= 500 req/s with p99 <= 50 ms -> "
        f"{singles.rate:,.0f} req/s, p99 {singles.pct(99):.1f} ms; duplicates >= 10,000 events/s -> {dupes.rate:,.0f}"
    )


if __name__ == "__main__":
    main()
