"""One database-writing path of the kernel (an outbox message through a SQLAlchemy session and
commit, as every service writes one) against a bare asyncpg INSERT into the same table, one row
per transaction, measured in the same run.

    .venv/bin/python bench/bench_kernel_db_write.py [--rows N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from _common import Result, fresh_database, pool_load, report

from services.common.db import create_engine, session_factory
from services.common.outbox import enqueue
from services.placement.models import Outbox


async def kernel_path(url: str, rows: int, concurrency: int) -> Result:
    engine = create_engine(url, pool_size=concurrency, max_overflow=0)
    factory = session_factory(engine)
    result = Result("kernel: session + enqueue + commit")
    counter = iter(range(rows))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            async with factory() as session:
                enqueue(session, Outbox, "progress", "PUT", f"/v1/x/{i}", {"i": i})
                await session.commit()
            result.latencies.append(time.perf_counter() - started)
            result.units += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    await engine.dispose()
    return result


async def bare_path(url: str, rows: int, concurrency: int) -> Result:
    sql = (
        "INSERT INTO outbox (message_id, destination, method, path, body, request_id, created_at, "
        "next_attempt_at, attempts) VALUES ($1, 'progress', 'PUT', $2, $3::jsonb, '', now(), now(), 0)"
    )

    async def insert(conn: Any, i: int) -> object:
        return await conn.execute(sql, uuid.uuid4(), f"/v1/x/{i}", json.dumps({"i": i}))

    return await pool_load(url, "bare asyncpg INSERT", rows, concurrency, insert)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    url = fresh_database("placement")
    asyncio.run(bare_path(url, 500, args.concurrency))  # warm-up
    bare = asyncio.run(bare_path(url, args.rows, args.concurrency))
    ours = asyncio.run(kernel_path(url, args.rows, args.concurrency))
    report("One row per transaction into outbox", [ours], unit="rows/s", ceiling=bare)


if __name__ == "__main__":
    main()
