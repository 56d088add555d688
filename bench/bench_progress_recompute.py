"""Re-evaluation after a curriculum is published, at national scale: publish a new version
through the real service and follow its recompute job (chunks of officials, one transaction
each) for a while; report officials re-evaluated per second and the time a full pass takes, beside
the bare state-loading query for one chunk (the database ceiling) measured in the same run.

    .venv/bin/python bench/bench_progress_recompute.py --database-url URL [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg
import httpx
from _common import Result, console, report, service, token
from bench_progress_data import add_arguments, database, sizes

from services.common.db import plain_url
from services.progress.seed import programme
from services.progress.store.progress import STATES_READ
from tests.support import free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--chunk", type=int, default=500)
    args = parser.parse_args()
    url = database(args)
    counts = asyncio.run(sizes(url))
    auth = {"Authorization": f"Bearer {token('admin', sub='bench-admin')}"}
    env = {"LMS_PROGRESS_RECOMPUTE_CHUNK": str(args.chunk), "LMS_PROGRESS_RECOMPUTE_POLL_SECONDS": "0.2"}
    ours = Result(f"recompute job, chunks of {args.chunk}")
    with service("progress", url, free_port(), **env) as base, httpx.Client(base_url=base, timeout=60) as client:
        draft = client.post("/v1/curricula", json=programme(f"bench-{uuid.uuid4().hex[:6]}"), headers=auth)
        draft.raise_for_status()
        started = time.perf_counter()
        job = client.post(f"/v1/curricula/{draft.json()['id']}/publish", headers=auth).json()["recompute_job"]
        while time.perf_counter() - started < args.seconds:
            time.sleep(1.0)
            state = client.get(f"/v1/recompute-jobs/{job['id']}", headers=auth).json()
            if state["status"] == "done":
                break
        ours.seconds = time.perf_counter() - started
        ours.units = state["officials"]
        ours.latencies = [ours.seconds]
        console.print(state)

    async def bare() -> Result:
        conn = await asyncpg.connect(plain_url(url))
        result = Result(f"bare state query, {args.chunk} officials")
        try:
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM official ORDER BY id LIMIT $1", args.chunk * 10)]
            started = time.perf_counter()
            for i in range(10):
                t = time.perf_counter()
                await conn.fetchval(STATES_READ, ids[i * args.chunk : (i + 1) * args.chunk])
                result.latencies.append(time.perf_counter() - t)
            result.seconds = time.perf_counter() - started
            result.units = 10 * args.chunk
        finally:
            await conn.close()
        return result

    ceiling = asyncio.run(bare())
    report(f"Re-evaluation of {counts['official']:,} officials", [ours], unit="officials/s", ceiling=ceiling)
    if ours.rate:
        console.print(
            f"a full pass over {counts['official']:,} officials takes about "
            f"{counts['official'] / ours.rate / 60:.0f} min"
        )


if __name__ == "__main__":
    main()
