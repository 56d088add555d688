"""Every admin report (JSON and CSV) through the real progress service on a database at national
scale (target <= 2 s each), beside the report's main aggregate query run bare through asyncpg in
the same run (the database ceiling).

    .venv/bin/python bench/bench_progress_reports.py [--database-url URL | --officials N --events N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import httpx
from _common import Result, console, report, service, token
from bench_progress_data import add_arguments, database, sizes

from services.common.db import plain_url
from tests.support import free_port

REPORTS = [
    "/v1/reports/capacity",
    "/v1/reports/capacity?by=session",
    "/v1/reports/completion",
    "/v1/reports/completion?by=org",
    "/v1/reports/attendance",
    "/v1/reports/attendance?by=session",
]
BARE = {
    "capacity": "SELECT level, count(*), sum(seats), sum(enrolled_count) FROM cohort_session GROUP BY level",
    "completion": "SELECT org, placed_level, current_level, count(*) FROM official GROUP BY 1, 2, 3",
    "attendance": "SELECT s.level, count(a.day) FROM cohort_session s LEFT JOIN attendance a "
    "ON a.session_id = s.id GROUP BY s.level",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = database(args)
    counts = asyncio.run(sizes(url))
    console.print(counts)
    auth = {"Authorization": f"Bearer {token('admin', sub='bench-admin')}"}
    rows: list[Result] = []
    with service("progress", url, free_port()) as base, httpx.Client(base_url=base, timeout=60) as client:
        for path in REPORTS:
            for fmt in ("json", "csv"):
                route, _, query = path.partition("?")
                target = f"{route}.csv" + (f"?{query}" if query else "") if fmt == "csv" else path
                result = Result(f"GET {target}")
                client.get(target, headers=auth)  # warm-up
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    r = client.get(target, headers=auth)
                    result.latencies.append(time.perf_counter() - started)
                    if r.status_code == 200:
                        result.units += 1
                    else:
                        result.errors += 1
                result.seconds = sum(result.latencies)
                rows.append(result)

    async def bare() -> list[Result]:
        conn = await asyncpg.connect(plain_url(url))
        out = []
        try:
            for name, sql in BARE.items():
                result = Result(f"bare SQL: {name} aggregate")
                await conn.fetch(sql)
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    await conn.fetch(sql)
                    result.latencies.append(time.perf_counter() - started)
                    result.units += 1
                result.seconds = sum(result.latencies)
                out.append(result)
        finally:
            await conn.close()
        return out

    ceilings = asyncio.run(bare())
    report(
        f"Admin reports on {counts['official']:,} officials / {counts['learning_event']:,} events "
        f"({args.repeat} runs each)",
        rows + ceilings,
        unit="runs/s",
    )
    worst = max(r.pct(100) for r in rows)
    console.print(f"target: every report <= 2,000 ms -> slowest run {worst:,.0f} ms")


if __name__ == "__main__":
    main()
