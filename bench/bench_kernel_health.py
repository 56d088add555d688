"""A service's /health/live (auth, request ids, metrics, logging middleware) against a bare Litestar
app on the same uvicorn settings, one worker each, measured in the same run.

    .venv/bin/python bench/bench_kernel_health.py [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from _common import FastClient, Reply, Result, fresh_database, process, report, run_load, service

from tests.support import free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    async def hit(client: FastClient, _i: int) -> Reply:
        return await client.request("GET", "/health/live")

    port = free_port()
    bare_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        "bench",
        "bare_app:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    bare_url, url = f"http://127.0.0.1:{port}", fresh_database("placement")
    bare: Result | None = None
    ours: Result | None = None
    # Both servers run side by side; rounds alternate so machine noise hits both alike; best round wins.
    with process(bare_cmd, f"{bare_url}/health/live"), service("placement", url, free_port()) as base:
        for target in (bare_url, base):
            asyncio.run(run_load("warm-up", hit, base_url=target, total=2000))
        for _ in range(args.rounds):
            b = asyncio.run(
                run_load(
                    "bare Litestar /health/live",
                    hit,
                    base_url=bare_url,
                    total=args.requests,
                    concurrency=args.concurrency,
                )
            )
            o = asyncio.run(
                run_load(
                    "placement /health/live", hit, base_url=base, total=args.requests, concurrency=args.concurrency
                )
            )
            bare = b if bare is None or b.rate > bare.rate else bare
            ours = o if ours is None or o.rate > ours.rate else ours
    assert bare and ours
    report("Health endpoint, one uvicorn worker, loopback HTTP/1.1 keep-alive", [ours], ceiling=bare)


if __name__ == "__main__":
    main()
