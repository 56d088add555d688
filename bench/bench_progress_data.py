"""The data generator for the progress benchmarks: a fresh progress database filled with
synthetic officials, paths, sessions, enrolments, attendance, events and merged progress by
set-based SQL (services.progress.store.benchdata.py; also ``lms progress generate``).

    .venv/bin/python bench/bench_progress_data.py [--officials 1100000] [--events 5000000] [--sessions 2000]

It prints the database URL; pass it to bench_progress_dashboard.py / bench_progress_reports.py
with ``--database-url`` to reuse the data (they generate their own when it is omitted).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import console, fresh_database

from services.progress.store.benchdata import generate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default="", help="reuse a database this script generated")
    parser.add_argument("--officials", type=int, default=1_100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--sessions", type=int, default=2_000)


def database(args: argparse.Namespace, keep: bool = False) -> str:
    """``--database-url``, or a freshly generated database (kept after exit only if ``keep``)."""
    if args.database_url:
        return str(args.database_url)
    url = fresh_database("progress", keep=keep)
    started = time.perf_counter()
    asyncio.run(generate(url, officials=args.officials, events=args.events, sessions=args.sessions, say=console.print))
    console.print(
        f"generated {args.officials:,} officials and {args.events:,} events in {time.perf_counter() - started:.0f} s"
    )
    return url


async def sizes(url: str) -> dict[str, int]:
    import asyncpg

    from services.common.db import plain_url

    conn = await asyncpg.connect(plain_url(url))
    try:
        out = {}
        for table in (
            "official",
            "learning_event",
            "module_progress",
            "level_completion",
            "cohort_session",
            "enrolment",
            "attendance",
        ):
            out[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        return out
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args()
    url = database(args, keep=True)
    console.print(asyncio.run(sizes(url)))
    console.print(f"database (kept; pass it as --database-url to the other progress benchmarks): {url}")


if __name__ == "__main__":
    main()
