"""The kernel's cost per request: a bare Litestar app against a service's ``/health/live`` (request
ids, edge checks, security headers, metrics, access log) and its authenticated ``GET /v1/whoami``
(the same plus token verification and a role guard, no database), one uvicorn worker each, measured
in the same run. The bare app is served twice: by stock uvicorn (the ceiling) and by uvicorn with
the kernel's protocol (``services.common.server.JoinedWritesProtocol``, headers and body in one
write, as ``lms serve`` runs), which shows what the server change alone is worth. Besides
requests per second it prints the server's CPU per request: the user plus system CPU time of the
server's process tree (``/proc/<pid>/stat``) over the run, divided by the requests served, which
depends less on how busy the rest of the machine is. The service logs at
INFO as in production (one access line per request), into a temporary file.

Targets: health at least 85 % and whoami at least 70 % of the bare app's rate.

    .venv/bin/python bench/bench_kernel_health.py [--requests N] [--concurrency C] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile

from _common import (
    Hit,
    Result,
    console,
    fresh_database,
    health_hit,
    process,
    report,
    run_load,
    service_process,
    tree_cpu_seconds,
    whoami_hit,
)

from tests.support import free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    health, whoami = health_hit, whoami_hit()

    port, joined_port = free_port(), free_port()
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
    joined_cmd = [*bare_cmd[:-5], "--port", str(joined_port), *bare_cmd[-3:]]
    joined_cmd += ["--http", "services.common.server:JoinedWritesProtocol"]
    bare_url, url = f"http://127.0.0.1:{port}", fresh_database("placement")
    joined_url = f"http://127.0.0.1:{joined_port}"
    best: dict[str, Result] = {}
    cpu: dict[str, float] = {}  # server CPU seconds per request, of the best round

    def measure(name: str, hit: Hit, base: str, server: subprocess.Popen[bytes]) -> None:
        before = tree_cpu_seconds(server.pid)
        result = asyncio.run(run_load(name, hit, base_url=base, total=args.requests, concurrency=args.concurrency))
        spent = tree_cpu_seconds(server.pid) - before
        if name not in best or result.rate > best[name].rate:
            best[name] = result
            cpu[name] = spent / max(result.units + result.errors, 1)

    # Both servers run side by side; rounds alternate so machine noise hits all alike; best round wins.
    with (
        tempfile.TemporaryFile() as service_log,
        process(bare_cmd, f"{bare_url}/health/live") as bare,
        process(joined_cmd, f"{joined_url}/health/live") as joined,
        service_process(
            "placement",
            url,
            free_port(),
            stdout=service_log,
            LMS_PLACEMENT_RELAY_ENABLED="false",
            LMS_LOG_LEVEL="INFO",
        ) as (base, ours),
    ):
        for target, hit in ((bare_url, health), (joined_url, health), (base, health), (base, whoami)):
            asyncio.run(run_load("warm-up", hit, base_url=target, total=2000))
        for _ in range(args.rounds):
            measure("bare Litestar /health/live", health, bare_url, bare)
            measure("bare Litestar /health/live, kernel's server protocol", health, joined_url, joined)
            measure("placement /health/live", health, base, ours)
            measure("placement GET /v1/whoami (auth, no database)", whoami, base, ours)
        service_log.seek(0)
        logged = sum(1 for line in service_log if line.startswith(b'{"event":"request"'))
    names = list(best)
    ceiling = best[names[0]]
    report(
        f"Kernel cost per request: one uvicorn worker each, {args.concurrency} keep-alive connections",
        [best[n] for n in names[1:]],
        ceiling=ceiling,
    )
    for name in names:
        console.print(f"server CPU per request  {name}: {cpu[name] * 1e6:,.0f} µs")
    health_share = best[names[2]].rate / ceiling.rate
    whoami_share = best[names[3]].rate / ceiling.rate
    console.print(
        f"health {health_share:.0%} of bare (target >= 85 %), whoami {whoami_share:.0%} of bare (target >= 70 %); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"{logged:,} access lines logged (whoami requests are logged, probes are not)"
    )


if __name__ == "__main__":
    main()
