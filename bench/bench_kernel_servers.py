"""uvicorn against granian, serving the same apps in the same run: which server serves Litestar better here?

Each app is served twice, one worker each unless ``--workers`` says otherwise, side by side:

- **uvicorn** as ``lms serve`` runs it: uvloop, httptools with the kernel's protocol
  (``services.common.server.JoinedWritesProtocol``: headers and body in one write), no access log of
  its own, no ``server`` header;
- **granian** with its ASGI interface (lifespan included), uvloop, one worker, its own access log off.

What is served: (a) a bare Litestar ``/health/live`` (the framework alone), (b) placement's
``GET /v1/whoami`` (the kernel's layers: request id, edge checks, metrics, access line, token and role;
no database) and (c) the diagnostic answer path (``POST /v1/sessions`` and its answers until the
diagnostic completes, as ``bench_placement_answer.py`` sends them, on one shared database with its
500-item bank). Rounds alternate between the servers so that the shared machine's noise hits both
alike. Printed per server: requests per second, p50/p95/p99 latency, errors and the server's CPU per
request (user plus system time of the server's process tree, ``/proc/<pid>/stat``, over the round:
granian's Rust threads count too), the best round of each, and the median of the rounds beside it.
The placement processes log at INFO as in production (one access line per request), each into its
own temporary file, and the lines are counted at the end.

With ``--workers N`` each server runs N worker processes (as ``lms serve --workers N``): on this
machine's two cores, with the load client beside them, every core is then busy and the server that
spends less CPU per request serves more.

    .venv/bin/python bench/bench_kernel_servers.py [--requests N] [--answers N] [--rounds R] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from _common import (
    Hit,
    Result,
    console,
    fresh_database,
    health_hit,
    process,
    run_load,
    service_env,
    service_process,
    tree_cpu_seconds,
    whoami_hit,
)
from bench_placement_answer import answers_over_http, load_bank
from rich.table import Table

from tests.support import free_port

SERVERS = ("uvicorn", "granian")
SETTINGS = {"LMS_PLACEMENT_RELAY_ENABLED": "false", "LMS_LOG_LEVEL": "INFO"}  # access lines at INFO, as in production


def granian_cmd(target: str, port: int, workers: int, *, factory: bool = False) -> list[str]:
    """granian serving ``target`` (``module:attribute``) with its ASGI interface and uvloop."""
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", str(workers), "--loop", "uvloop"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    return [*cmd, *(["--factory"] if factory else []), target]


def uvicorn_cmd(target: str, port: int, workers: int, *, factory: bool = False) -> list[str]:
    """uvicorn serving ``target`` as ``lms serve`` does (``services.common.server.run``)."""
    cmd = [sys.executable, "-m", "uvicorn", "--http", "services.common.server:JoinedWritesProtocol"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    cmd += ["--workers", str(workers)] if workers > 1 else []
    return [*cmd, "--no-server-header", "--no-proxy-headers", *(["--factory"] if factory else []), target]


@dataclass
class Rounds:
    """The rounds of one scenario on one server: each round's result and server CPU per request."""

    results: list[Result] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def best(self) -> int:
        return max(range(len(self.results)), key=lambda i: self.results[i].rate)

    def median_rate(self) -> float:
        return statistics.median(r.rate for r in self.results)

    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000, help="requests per round for health and whoami")
    parser.add_argument("--answers", type=int, default=6_000, help="answers per round on the answer path")
    parser.add_argument("--concurrency", type=int, default=32, help="connections for health and whoami")
    parser.add_argument("--officials", type=int, default=16, help="officials answering at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each server")
    parser.add_argument("--no-answers", action="store_true", help="skip the answer path")
    args = parser.parse_args()

    health, whoami = health_hit, whoami_hit()

    url = fresh_database("placement")
    env = service_env("placement", url, **SETTINGS)
    rounds: dict[tuple[str, str], Rounds] = {}
    logs = {name: tempfile.TemporaryFile() for name in SERVERS}

    def measure(scenario: str, server: str, proc: subprocess.Popen[bytes], run: Callable[[], Result]) -> None:
        before = tree_cpu_seconds(proc.pid)
        result = run()
        spent = tree_cpu_seconds(proc.pid) - before
        each = rounds.setdefault((scenario, server), Rounds())
        each.results.append(result)
        each.cpu.append(spent / max(result.units + result.errors, 1))

    with contextlib.ExitStack() as stack:
        bare: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
        placement: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
        for name, cmd in (("uvicorn", uvicorn_cmd), ("granian", granian_cmd)):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            served = process(cmd("bench.bare_app:app", port, args.workers), f"{base}/health/live")
            bare[name] = (base, stack.enter_context(served))
        for name, cmd in (("uvicorn", uvicorn_cmd), ("granian", granian_cmd)):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            if name == "uvicorn" and args.workers == 1:  # lms serve itself
                served = service_process("placement", url, port, stdout=logs[name], **SETTINGS)
                placement[name] = stack.enter_context(served)
            else:  # as lms serve --workers N runs it: each worker builds the app from the factory
                factory = cmd("services.placement.app:create_app", port, args.workers, factory=True)
                placement[name] = (base, stack.enter_context(process(factory, f"{base}/health/ready", env, logs[name])))
            if name == "uvicorn":
                by_id = asyncio.run(load_bank(base))  # published before granian's processes start

        for name in SERVERS:
            asyncio.run(run_load("warm-up", health, base_url=bare[name][0], total=2000))
            asyncio.run(run_load("warm-up", whoami, base_url=placement[name][0], total=2000))
            if not args.no_answers:
                asyncio.run(answers_over_http(placement[name][0], by_id, 500, args.officials))

        def load(hit: Hit, base: str) -> Callable[[], Result]:
            return lambda: asyncio.run(
                run_load("", hit, base_url=base, total=args.requests, concurrency=args.concurrency)
            )

        def answering(base: str) -> Callable[[], Result]:
            def run() -> Result:
                answers, starts, _completed = asyncio.run(answers_over_http(base, by_id, args.answers, args.officials))
                answers.units += starts.units  # CPU per request counts the starts, as bench_placement_answer does
                answers.errors += starts.errors
                return answers

            return run

        for index in range(args.rounds):
            order = SERVERS if index % 2 == 0 else SERVERS[::-1]  # who goes first alternates too
            for name in order:
                measure("bare Litestar /health/live", name, bare[name][1], load(health, bare[name][0]))
            for name in order:
                measure("placement GET /v1/whoami", name, placement[name][1], load(whoami, placement[name][0]))
            if not args.no_answers:
                for name in order:
                    base, proc = placement[name]
                    measure("placement answers (starts included)", name, proc, answering(base))
        logged = {}
        for name, log in logs.items():
            log.seek(0)
            logged[name] = sum(1 for line in log if line.startswith(b'{"event":"request"'))

    workers = "one worker" if args.workers == 1 else f"{args.workers} workers"
    table = Table(title=f"uvicorn (kernel's protocol) against granian (ASGI), {workers} each, {args.rounds} rounds")
    for column in ("what", "server", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "CPU µs/req", "median req/s"):
        table.add_column(column, justify="left" if column in ("what", "server") else "right")
    scenarios = list(dict.fromkeys(s for s, _ in rounds))
    for scenario in scenarios:
        for name in SERVERS:
            each = rounds[(scenario, name)]
            i = each.best()
            best = each.results[i]
            table.add_row(
                scenario,
                name,
                f"{best.rate:,.0f}",
                f"{best.pct(50):.2f}",
                f"{best.pct(95):.2f}",
                f"{best.pct(99):.2f}",
                str(sum(r.errors for r in each.results)),
                f"{each.cpu[i] * 1e6:,.0f}",
                f"{each.median_rate():,.0f}",
            )
    console.print(table)
    for scenario in scenarios:
        uv, gr = rounds[(scenario, "uvicorn")], rounds[(scenario, "granian")]
        ahead = sum(g.rate > u.rate for g, u in zip(gr.results, uv.results, strict=True))
        console.print(
            f"{scenario}: granian {gr.median_rate() / uv.median_rate():.0%} of uvicorn's median rate, "
            f"ahead in {ahead} of {len(uv.results)} rounds; median CPU per request "
            f"uvicorn {uv.median_cpu() * 1e6:,.0f} µs, granian {gr.median_cpu() * 1e6:,.0f} µs"
        )
    console.print(
        f"access lines logged: uvicorn {logged['uvicorn']:,}, granian {logged['granian']:,}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
