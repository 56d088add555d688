"""A full HR sync through the feed cursor: N change records (generated with set-based SQL, default
1,000,000) read page by page (limit 500) over HTTP from the real service process by one HR client,
against a ceiling measured in the same run: the same keyset pages read with bare asyncpg in this
process (no HTTP, no JSON).

    .venv/bin/python bench/bench_certification_feed.py [--records N] [--limit 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import asyncpg
from _common import FastClient, Result, console, fresh_database, report, service, token

from services.common.db import plain_url
from tests.support import free_port

GENERATE = """
INSERT INTO change (xid, event, certificate_id, serial, official_id, official_name, org, level, status, reason,
                    issued_at, changed_at, supersedes_id)
SELECT pg_current_xact_id()::text::bigint,
       CASE WHEN i % 10 = 0 THEN 'revoked' ELSE 'issued' END,
       gen_random_uuid(),
       'LMS-2026-L' || (i % 5) || '-' || lpad(i::text, 7, '0') || '-0',
       'official-' || i,
       '공무원 ' || i,
       'ORG-' || lpad((i % 300)::text, 3, '0'),
       i % 5,
       CASE WHEN i % 10 = 0 THEN 'revoked' ELSE 'active' END,
       CASE WHEN i % 10 = 0 THEN 'bench' END,
       timestamptz '2026-01-01' + i * interval '1 second',
       timestamptz '2026-01-01' + i * interval '1 second',
       NULL
FROM generate_series(1, $1) AS i
"""


async def generate(url: str, records: int) -> float:
    conn = await asyncpg.connect(plain_url(url))
    try:
        started = time.perf_counter()
        async with conn.transaction():  # change rows are written holding the feed writer lock
            await conn.execute(
                "SELECT set_config('lms.feed_writer', 'on', true), pg_advisory_xact_lock_shared(4242, 1)"
            )
            await conn.execute(GENERATE, records)
        await conn.execute("VACUUM ANALYZE change")
        return time.perf_counter() - started
    finally:
        await conn.close()


async def http_sync(base: str, limit: int, expected: int) -> Result:
    auth = {"Authorization": f"Bearer {token('hr', sub='hr-bench')}"}
    client = FastClient(base)
    result = Result(f"HTTP feed sync, limit {limit}")
    cursor = ""
    started = time.perf_counter()
    try:
        while True:
            t = time.perf_counter()
            path = f"/v1/certificates?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            reply = await client.request("GET", path, headers=auth)
            result.latencies.append(time.perf_counter() - t)
            if reply.status_code != 200:
                result.errors += 1
                break
            page = json.loads(reply.body)
            result.units += len(page["items"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    finally:
        await client.close()
    result.seconds = time.perf_counter() - started
    if result.units != expected:
        console.print(f"[red]synced {result.units} records, expected {expected}[/]")
        result.errors += 1
    return result


async def bare_sync(url: str, limit: int) -> Result:
    conn = await asyncpg.connect(plain_url(url))
    result = Result(f"bare asyncpg keyset pages, limit {limit}")
    sql = (
        "SELECT xid, seq, event, certificate_id, serial, official_id, official_name, org, level, status, reason,"
        " issued_at, changed_at, supersedes_id FROM change WHERE (xid, seq) > ($1, $2) ORDER BY xid, seq LIMIT $3"
    )
    position = (-1, 0)
    started = time.perf_counter()
    try:
        while True:
            t = time.perf_counter()
            rows = await conn.fetch(sql, position[0], position[1], limit)
            result.latencies.append(time.perf_counter() - t)
            result.units += len(rows)
            if len(rows) < limit:
                break
            position = (rows[-1]["xid"], rows[-1]["seq"])
    finally:
        await conn.close()
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args()
    url = fresh_database("certification")
    seconds = asyncio.run(generate(url, args.records))
    console.print(f"generated {args.records:,} change records in {seconds:.1f} s (set-based SQL)")
    port = free_port()
    with service("certification", url, port, LMS_CERTIFICATION_WEBHOOKS_ENABLED="false") as base:
        synced = asyncio.run(http_sync(base, args.limit, args.records))
    bare = asyncio.run(bare_sync(url, args.limit))
    report(
        "Full HR sync through the cursor (target: 1,000,000 records in <= 60 s)",
        [synced],
        unit="records/s",
        ceiling=bare,
    )
    console.print(
        f"HTTP sync of {synced.units:,} records took {synced.seconds:.1f} s; bare keyset scan {bare.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
