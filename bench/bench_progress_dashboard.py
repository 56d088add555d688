"""The learner dashboard (GET /v1/me/path) through the real progress service on a database at
national scale (target p95 <= 50 ms), beside the same process's /health/live (the framework,
auth and middleware ceiling) measured in the same run.

    .venv/bin/python bench/bench_progress_dashboard.py [--database-url URL | --officials N --events N]
                                                        [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import random

from _common import FastClient, Reply, console, report, run_load, service, token
from bench_progress_data import add_arguments, database, sizes

from tests.support import free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    url = database(args)
    counts = asyncio.run(sizes(url))
    console.print(counts)
    rng = random.Random(7)
    officials = [f"off-{rng.randint(1, counts['official'])}" for _ in range(500)]
    headers = [{"Authorization": f"Bearer {token('learner', sub=o)}"} for o in officials]

    async def dashboard(client: FastClient, i: int) -> Reply:
        return await client.request("GET", "/v1/me/path", headers=headers[i % len(headers)])

    with service("progress", url, free_port()) as base:

        async def run() -> tuple:
            await run_load("warm-up", dashboard, base_url=base, total=200, concurrency=4)
            mine = await run_load(
                "GET /v1/me/path", dashboard, base_url=base, total=args.requests, concurrency=args.concurrency
            )
            health = await run_load(
                "GET /health/live (same process)",
                lambda c, i: c.request("GET", "/health/live"),
                base_url=base,
                total=args.requests,
                concurrency=args.concurrency,
            )
            return mine, health

        mine, health = asyncio.run(run())
    report(
        f"Learner dashboard on {counts['official']:,} officials / {counts['learning_event']:,} events",
        [mine],
        ceiling=health,
    )
    console.print(f"target: dashboard p95 <= 50 ms -> {mine.pct(95):.1f} ms at concurrency {args.concurrency}")


if __name__ == "__main__":
    main()
