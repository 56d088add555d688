"""Shared helpers for bench/ scripts: a database, real service processes, a load generator, a report.

Convention: one script per benchmark (``bench_<area>_<what>.py``), runnable on its own with
``.venv/bin/python bench/<script>.py`` (or all of them with ``python3 dev.py bench``), printing each
figure beside a ceiling or reference measured in the same run. Benchmarks are not tests.
The database is the embedded one (``.lms/postgres-bench``) unless ``LMS_BENCH_DATABASE_URL`` names
a server's admin database.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from services.common import migrations  # noqa: E402
from services.common.auth import ensure_dev_keys, load_private_jwk, mint_token  # noqa: E402
from services.common.db import ensure_database, with_database  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 130)
KEYS_DIR = ROOT / ".lms" / "bench-keys"


def admin_url() -> str:
    configured = os.environ.get("LMS_BENCH_DATABASE_URL")
    if configured:
        return configured
    from services.common import embedded

    return embedded.server_url("postgres-bench")


def fresh_database(service: str, migrate: bool = True, keep: bool = False) -> str:
    """A new database for ``service`` on the bench server, migrated to head; dropped when the
    script exits unless ``keep``."""
    admin = admin_url()
    name = f"bench_{service}_{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_database(admin, name))
    if not keep:
        atexit.register(_drop, admin, name)
    url = with_database(admin, name)
    if migrate:
        migrations.upgrade(service, url)
    return url


def _drop(admin: str, name: str) -> None:
    import asyncpg

    from services.common.db import plain_url

    async def drop() -> None:
        conn = await asyncpg.connect(plain_url(admin))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@functools.cache
def _signing_key() -> dict[str, Any]:
    private_file, _ = ensure_dev_keys(KEYS_DIR)
    return load_private_jwk(private_file)


def token(role: str, sub: str | None = None, **claims: str) -> str:
    """A signed token (the key is read once: load generators mint one per simulated official)."""
    return mint_token(
        _signing_key(),
        sub=sub or str(uuid.uuid4()),
        roles=[role],
        issuer="lms-dev",
        audience="lms",
        ttl=3600,
        **claims,
    )


def service_env(service: str, database_url: str, **extra: str) -> dict[str, str]:
    private_file, jwks_file = ensure_dev_keys(KEYS_DIR)
    env = dict(os.environ)
    env.update(
        {
            f"LMS_{service.upper()}_DATABASE_URL": database_url,
            "LMS_JWKS": str(jwks_file),
            "LMS_SERVICE_KEY_FILE": str(private_file),
            "LMS_WEB_DEV_KEY_FILE": str(private_file),  # the web app's development sign-in mints with it
            "LMS_LOG_LEVEL": "WARNING",
            "LMS_PUBLIC_RATE_LIMIT": "0",  # a load generator is one client address
            "LMS_CERTIFICATION_KEY_PASSPHRASE": "bench-only-certification-passphrase",
        }
    )
    env.update(extra)
    return env


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s")


@contextlib.contextmanager
def process(
    cmd: list[str], ready_url: str, env: dict[str, str] | None = None, stdout: Any = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env=env or dict(os.environ), cwd=ROOT, stdout=stdout)
    try:
        wait_http(ready_url, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def service(name: str, database_url: str, port: int, **extra_env: str) -> Iterator[str]:
    """Run ``lms serve <name>`` as a real process (one uvicorn worker); yield its base URL."""
    with service_process(name, database_url, port, **extra_env) as (base, _proc):
        yield base


@contextlib.contextmanager
def service_process(
    name: str, database_url: str, port: int, stdout: Any = None, **extra_env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`service`, also yielding the server process (its tree's CPU: :func:`tree_cpu_seconds`);
    ``stdout`` takes its log (e.g. an open file, to measure with the access log on)."""
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "services.cli", "serve", name, "--port", str(port)]
    with process(cmd, f"{base}/health/ready", service_env(name, database_url, **extra_env), stdout) as proc:
        yield base, proc


class Reply:
    """What :class:`FastClient` returns: a status code and the body bytes."""

    __slots__ = ("body", "status_code")

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code, self.body = status_code, body

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> object:
        import json

        return json.loads(self.body)


class FastClient:
    """A minimal HTTP/1.1 keep-alive client for load generation (one connection, one request at a
    time). httpx costs more CPU per request than the servers under test, which would make the load
    generator the bottleneck on a 2-core machine; this speaks just enough HTTP for JSON endpoints.
    A connection idle for ``IDLE`` seconds is dropped before the next request, before the server's own
    keep-alive (uvicorn: 5 s) closes it under a request in flight."""

    IDLE = 4.0

    def __init__(self, base_url: str) -> None:
        hostport = base_url.split("//", 1)[1].rstrip("/")
        self.host, _, port = hostport.partition(":")
        self.port = int(port or 80)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        now = time.monotonic()
        if self.writer is not None and now - self.used > self.IDLE:
            self.writer.close()
            self.writer = None
        self.used = now
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
        if not chunked:
            return Reply(status, await self.reader.readexactly(length) if length else b"")
        parts = []
        while (size := int((await self.reader.readuntil(b"\r\n")).strip(), 16)) > 0:
            parts.append(await self.reader.readexactly(size + 2))
        await self.reader.readuntil(b"\r\n")
        return Reply(status, b"".join(p[:-2] for p in parts))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    units: int = 0  # work items done (requests, events, rows ...)

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


Hit = Callable[["FastClient", int], Awaitable["Reply"]]  # one request of a load, by its index


async def health_hit(client: FastClient, _i: int) -> Reply:
    """``GET /health/live``: a probe, neither authenticated nor logged."""
    return await client.request("GET", "/health/live")


def whoami_hit() -> Hit:
    """``GET /v1/whoami`` with a learner's token: authentication and middleware, no database."""
    learner = {"Authorization": f"Bearer {token('learner', name='Bench', org='O')}"}

    async def whoami(client: FastClient, _i: int) -> Reply:
        return await client.request("GET", "/v1/whoami", headers=learner)

    return whoami


async def run_load(
    name: str,
    request: Hit,
    *,
    base_url: str,
    total: int,
    concurrency: int = 32,
    units_per_request: int = 1,
    ok: Callable[[Reply], bool] = lambda r: r.is_success,
) -> Result:
    """Send ``total`` requests over ``concurrency`` keep-alive connections; ``request(client, i)``
    makes request number i. Latency is per request; ``units`` counts work items of good requests."""
    result = Result(name)
    counter = iter(range(total))

    async def worker() -> None:
        client = FastClient(base_url)
        try:
            for i in counter:
                started = time.perf_counter()
                try:
                    good = ok(await request(client, i))
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    good = False
                    await client.close()
                    client = FastClient(base_url)
                result.latencies.append(time.perf_counter() - started)
                if good:
                    result.units += units_per_request
                else:
                    result.errors += 1
        finally:
            await client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def pool_load(
    url: str,
    name: str,
    total: int,
    concurrency: int,
    call: Callable[[Any, int], Awaitable[object]],
    units_per_call: int = 1,
) -> Result:
    """A database ceiling: ``call(connection, i)`` for i in range(total) from ``concurrency``
    asyncpg connections, each call timed."""
    import asyncpg

    from services.common.db import plain_url

    pool = await asyncpg.create_pool(plain_url(url), min_size=concurrency, max_size=concurrency)
    result = Result(name)
    counter = iter(range(total))

    async def worker() -> None:
        async with pool.acquire() as conn:
            for i in counter:
                started = time.perf_counter()
                await call(conn, i)
                result.latencies.append(time.perf_counter() - started)
                result.units += units_per_call

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    await pool.close()
    return result


def report(title: str, rows: list[Result], unit: str = "req/s", ceiling: Result | None = None) -> None:
    table = Table(title=title)
    for column in ("what", unit, "p50 ms", "p95 ms", "p99 ms", "errors", "vs ceiling"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for row in [*rows, *([ceiling] if ceiling else [])]:
        share = f"{row.rate / ceiling.rate:.0%}" if ceiling and ceiling.rate and row is not ceiling else ""
        table.add_row(
            row.name + (" (ceiling)" if row is ceiling else ""),
            f"{row.rate:,.0f}",
            f"{row.pct(50):.2f}",
            f"{row.pct(95):.2f}",
            f"{row.pct(99):.2f}",
            str(row.errors),
            share,
        )
    console.print(table)


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (a server's worker processes), from /proc."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds spent so far by ``pid`` and its live descendants (/proc/<pid>/stat)."""
    total = 0
    for each in tree_pids(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone in between
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pid(url: str) -> int | None:
    """The PostgreSQL server process (postmaster) behind ``url`` when it runs on this machine (the
    parent of a backend, from /proc), else None; :func:`tree_cpu_seconds` of it is the CPU spent by
    the server and its live backends."""
    import asyncpg

    from services.common.db import plain_url

    async def parent_of_backend() -> int | None:
        conn = await asyncpg.connect(plain_url(url))
        try:  # read while the backend lives: it exits when the connection closes
            stat = Path(f"/proc/{await conn.fetchval('SELECT pg_backend_pid()')}/stat").read_text()  # noqa: ASYNC240
        except OSError:
            return None  # another machine's server
        finally:
            await conn.close()
        return int(stat.rsplit(")", 1)[1].split()[1])

    return asyncio.run(parent_of_backend())


@dataclass
class CpuShare:
    """Where the machine's CPU went over a stretch of a run: ``server`` (a process tree), PostgreSQL
    (its postmaster's tree), this process (the load client) and everything else, from /proc."""

    server_pid: int
    postgres: int | None
    marks: tuple[float, ...] = ()

    def _now(self) -> tuple[float, ...]:
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        busy = (sum(int(f) for f in fields[:8]) - int(fields[3]) - int(fields[4])) / tick  # all but idle, iowait
        own = os.times()
        return (
            time.perf_counter(),
            tree_cpu_seconds(self.server_pid),
            tree_cpu_seconds(self.postgres) if self.postgres else 0.0,
            own.user + own.system,
            busy,
        )

    def start(self) -> None:
        self.marks = self._now()

    def line(self, units: int, what: str) -> str:
        """One line: each share in CPU seconds, as cores busy and per unit of work (µs)."""
        end = self._now()
        wall, server, pg, client, busy = (b - a for a, b in zip(self.marks, end, strict=True))
        other = max(busy - server - pg - client, 0.0)
        parts = [("server", server), ("PostgreSQL", pg), ("load client", client), ("other processes", other)]
        shares = ", ".join(
            f"{name} {cpu / wall:.2f} cores ({cpu / max(units, 1) * 1e6:,.0f} µs per {what})" for name, cpu in parts
        )
        return f"CPU over {wall:.1f} s on {os.cpu_count()} cores: {shares}; busy {busy / wall:.2f} cores"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def profiled(pid: int, raw_file: str | None, rate: int = 200) -> Iterator[None]:
    """While the block runs, py-spy samples process ``pid`` (``rate`` stacks a second) into
    ``raw_file`` as collapsed stacks (one ``frame;frame;... count`` line per stack); nothing when
    ``raw_file`` is None. py-spy comes with the bench extra."""
    if raw_file is None:
        yield
        return
    spy = str(Path(sys.executable).with_name("py-spy"))
    cmd = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--output", raw_file]
    recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the load starts
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
        recorder.wait(timeout=60)


_LINE = re.compile(r":\d+\)$")


def top_frames(raw_file: str, within: str, count: int = 12) -> tuple[float, list[tuple[float, float, str]]]:
    """From py-spy's collapsed stacks: the share of all samples that pass through a frame containing
    ``within`` (e.g. the server's call of the app) and, among those, the functions most often on the
    stack below it, as (inclusive share, own share, ``function (file)``), highest inclusive share
    first. Line numbers are dropped, so a function's share is the sum over its lines."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = everything = 0
    for line in Path(raw_file).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        samples = int(n)
        everything += samples
        start = next((i for i, frame in enumerate(frames) if within in frame), None)
        if start is None:
            continue
        total += samples
        for frame in set(frames[start:]):
            inclusive[frame] = inclusive.get(frame, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    ranked = sorted(inclusive, key=lambda f: -inclusive[f])[:count]
    rows = [(inclusive[f] / max(total, 1), own.get(f, 0) / max(total, 1), f) for f in ranked]
    return total / max(everything, 1), rows
