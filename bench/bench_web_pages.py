"""Web pages under load: N concurrent signed-in officials (default 100) go through the web app's
home, the diagnostic ``--diagnostics`` times in turn (start, item page, answer, next item ... result;
placement's retake cooldown is off and each diagnostic is ``--items`` items long, so every official
makes several measured starts, not one taken as they arrive) and the sessions page, each pausing
between pages as a person does (think time, exponential with mean ``--think`` seconds).
Beside each of them, another official makes exactly the API calls those pages make, straight to the
services with the same kind of token; the two take their steps in turn (page, API calls, page ...),
so pages and API calls are measured at the same moments under the same load. A short warm-up runs
first and is not counted. The table prints p50/p95/p99 of each page beside the API calls it makes,
and the web app's bare /health/live as the framework ceiling; the last lines say how far each page's
p95 is over its calls' and how many pages and API steps each figure rests on. The three services
and the web app run as real processes, one uvicorn worker each, on this machine.

The web app's cookies are marked Secure in production; here (plain http on loopback, a load
generator instead of a browser) it runs with LMS_WEB_COOKIE_SECURE=false.

    .venv/bin/python bench/bench_web_pages.py [--officials 100] [--diagnostics 3] [--items 6] [--think 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import random
import re
import ssl
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlencode, urlsplit

import httptools
import httpx
import numpy as np
from _common import (
    FastClient,
    Result,
    console,
    fresh_database,
    process,
    report,
    run_load,
    service_env,
    service_process,
    token,
    tree_cpu_seconds,
)

from tests.support import free_port

SERVICES = ("placement", "progress", "certification")
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
ITEM = re.compile(r'name="item_id" value="([^"]+)"')
ACTION = re.compile(r'action="(/diagnostic/[^"/]+)/answer"')
POSITION = re.compile(r'name="position" value="(\d+)"')
OPTIONS = re.compile(r'name="choice" value="(\d+)"')
# a person's idle connection is dropped before the server's keep-alive (uvicorn: 5 s) closes it
LIMITS = httpx.Limits(keepalive_expiry=4.0)
# one TLS context for every client: httpx builds a new one (about 50 ms of CPU) for each client
# otherwise, which stalls the load generator while 200 people arrive (all calls here are plain http)
TLS = ssl.create_default_context()


def client(base: str, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=60, limits=LIMITS, verify=TLS, **options)


class Answer:
    """A complete answer: status, headers (lower-case names, in order, repeated ones kept) and body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return json.loads(self.content)


class _Reading:
    """httptools callbacks: one response."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.done = self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # asked once the parser has reset, it says no
        self.done = True


class Wire:
    """One person's kept-alive HTTP/1.1 connection to one server, every request written at once:
    request line, headers and body in one write, as a browser sends a small form (Chromium merges
    a body of up to 1,400 bytes with the headers) and as the web app's own client calls the APIs.
    httpx writes a request's headers and its body separately, so each form POST through it reached
    the server as two packets that a browser sends as one, and could cost the server a second
    wake-up (the API official's start has no body at all, so that cost fell on the start page
    alone). Both officials use this client, with the same idle rule as before (a connection idle
    ``IDLE`` seconds is dropped before uvicorn's 5 s keep-alive closes it)."""

    IDLE = 4.0
    opened = 0  # connections opened, all clients together (printed at the end)

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in {"Host": url.netloc, **(headers or {})}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        return await self.request("GET", f"{path}?{urlencode(params)}" if params else path)

    async def post(
        self,
        path: str,
        *,
        data: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        if data is not None:
            body, kind = urlencode(data).encode(), "application/x-www-form-urlencoded"
        elif json_body is not None:
            body, kind = json.dumps(json_body).encode(), "application/json"
        else:
            body, kind = b"", ""
        extra = {**({"Content-Type": kind} if kind else {}), **(headers or {})}
        return await self.request("POST", path, body, extra)

    async def request(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        head = f"{method} {target} HTTP/1.1\r\n{self.fixed}"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body or method == "POST":
            head += f"Content-Length: {len(body)}\r\n"
        message = head.encode() + b"\r\n" + body
        now = time.monotonic()
        if self.writer is not None and now - self.used > self.IDLE:
            self.close()
        reused = self.writer is not None
        if self.writer is None:
            self.reader, self.writer = await self.connect()
        try:
            return await self._exchange(message)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
            self.reader, self.writer = await self.connect()
            return await self._exchange(message)
        finally:
            self.used = time.monotonic()

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        Wire.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    async def _exchange(self, message: bytes) -> Answer:
        assert self.reader is not None and self.writer is not None
        self.writer.write(message)
        reading = _Reading()
        while not reading.done:
            data = await self.reader.read(65536)
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
            reading.parser.feed_data(data)
        if not reading.keep_alive:
            self.close()
        return Answer(reading.parser.get_status_code(), reading.headers, b"".join(reading.body))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


FAILURES = (httpx.HTTPError, OSError, asyncio.IncompleteReadError, httptools.HttpParserError)


class Timer:
    def __init__(self) -> None:
        self.results: dict[str, Result] = defaultdict(lambda: Result(""))

    async def time(self, name: str, call: Awaitable[Any], ok: Any = lambda r: True) -> Any:
        started = time.perf_counter()
        try:
            value = await call
            good = ok(value)
        except FAILURES as exc:
            value, good = exc, False
        result = self.results[name]
        result.name = name
        result.latencies.append(time.perf_counter() - started)
        if good:
            result.units += 1
        else:
            result.errors += 1
            if result.errors <= 3:
                console.print(f"[red]{name}: {value!r:.200}[/]")
        return value


class Turns:
    """A web official and an API official taking their measured steps in turn (the one whose
    journey ended no longer holds the other up)."""

    def __init__(self) -> None:
        self.turn = "web"
        self.done: set[str] = set()
        self.changed = asyncio.Condition()

    async def take(self, kind: str) -> None:
        other = "api" if kind == "web" else "web"
        async with self.changed:
            await self.changed.wait_for(lambda: self.turn == kind or other in self.done)

    async def give(self, kind: str, finished: bool = False) -> None:
        async with self.changed:
            self.turn = "api" if kind == "web" else "web"
            if finished:
                self.done.add(kind)
            self.changed.notify_all()


class Pace:
    """One official's measured steps: wait for its turn, time the step, hand the turn over, think."""

    def __init__(self, kind: str, timer: Timer, turns: Turns, rng: random.Random, think: float) -> None:
        self.kind, self.timer, self.turns, self.rng, self.think = kind, timer, turns, rng, think

    async def step(self, name: str, call: Awaitable[Any], ok: Any = lambda r: True) -> Any:
        await self.turns.take(self.kind)
        try:
            return await self.timer.time(name, call, ok)
        finally:
            await self.turns.give(self.kind)
            if self.think:
                await asyncio.sleep(min(self.rng.expovariate(1 / self.think), 5 * self.think))

    async def arrive(self) -> None:
        """People do not all sign in at the same instant: each arrives within the first think times."""
        await asyncio.sleep(self.rng.uniform(0, 3 * self.think))

    async def finish(self) -> None:
        await self.turns.give(self.kind, finished=True)


def page_ok(response: Answer) -> bool:
    return response.status_code == 200


async def via_web(n: int, base: str, pace: Pace, diagnostics: int) -> None:
    try:
        await web_journey(n, base, pace, pace.rng, diagnostics)
    finally:
        await pace.finish()


async def web_journey(n: int, base: str, pace: Pace, rng: random.Random, diagnostics: int) -> None:
    await pace.arrive()
    async with client(base, follow_redirects=True) as web:
        signin = await web.get("/signin")
        form = {"_csrf_token": CSRF.search(signin.text).group(1), "persona": "learner", "sub": f"web-{n}"}  # type: ignore[union-attr]
        await web.post("/auth/dev", data={**form, "name": f"Official {n}", "org": f"ORG-{n % 20:02d}"})
        person = Browser(base, dict(web.cookies.items()))  # signed in: its cookies travel as one header
    try:
        await pace.step("home (unplaced)", person.get("/"), page_ok)
        for _ in range(diagnostics):  # the first, then retakes (no cooldown here)
            intro = await pace.step("diagnostic intro", person.get("/diagnostic"), page_ok)
            start = person.post("/diagnostic/start", data={"_csrf_token": form_token(intro)})
            page = await pace.step("diagnostic start -> item", start, page_ok)
            while isinstance(page, Answer) and (item := ITEM.search(page.text)):
                session_path = ACTION.search(page.text).group(1)  # type: ignore[union-attr]
                await pace.step("diagnostic item page", person.get(session_path), page_ok)
                answer = {
                    "_csrf_token": form_token(page),
                    "position": POSITION.search(page.text).group(1),  # type: ignore[union-attr]
                    "item_id": item.group(1),
                    "choice": rng.choice(OPTIONS.findall(page.text)),
                }
                page = await pace.step(
                    "diagnostic answer -> next", person.post(f"{session_path}/answer", data=answer), page_ok
                )
        for _ in range(120):  # placement reaches progress through the outbox
            home = await person.get("/")
            if "levels" in home.text:
                break
            await asyncio.sleep(0.5)
        await pace.step("home (path)", person.get("/"), page_ok)
        await pace.step("sessions", person.get("/sessions"), page_ok)
    finally:
        person.close()


class Browser:
    """A signed-in person's browser: one kept-alive connection (:class:`Wire`), its cookies sent as
    one header; a cookie a page sets is taken up for the next request."""

    sent = 0  # requests to the web app, all browsers together (its CPU per request is printed)

    def __init__(self, base: str, cookies: dict[str, str]) -> None:
        self.cookies = cookies
        self.wire = Wire(base)

    def header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    async def get(self, path: str) -> Answer:
        Browser.sent += 1
        return self.seen(await self.wire.request("GET", path, headers=self.header()))

    async def post(self, path: str, data: dict[str, str]) -> Answer:
        Browser.sent += 1
        return self.seen(await self.wire.post(path, data=data, headers=self.header()))

    def seen(self, response: Answer) -> Answer:
        for name, value in response.headers:
            if name == "set-cookie":
                pair, _, attributes = value.partition(";")
                key, _, cookie = pair.strip().partition("=")
                if "max-age=0" in attributes.lower().replace(" ", "") or cookie in ("", "null", '""'):
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie
        return response

    def close(self) -> None:
        self.wire.close()


def form_token(page: Any) -> str:
    """The CSRF token of the form on ``page``, as a browser would send it."""
    found = CSRF.search(page.text) if isinstance(page, Answer) else None
    return found.group(1) if found else ""


async def via_api(n: int, bases: dict[str, str], pace: Pace, diagnostics: int) -> None:
    try:
        await api_journey(n, bases, pace, pace.rng, diagnostics)
    finally:
        await pace.finish()


async def api_journey(n: int, bases: dict[str, str], pace: Pace, rng: random.Random, diagnostics: int) -> None:
    """The same calls the pages make, in the same order and grouping."""
    await pace.arrive()
    auth = {"Authorization": f"Bearer {token('learner', sub=f'api-{n}', name=f'Official {n}', org='ORG-01')}"}
    placement, progress, certification = (Wire(bases[s], auth) for s in SERVICES)
    try:

        async def home() -> list[Answer]:
            return list(await asyncio.gather(progress.get("/v1/me/path"), certification.get("/v1/me/certificates")))

        await pace.step("home (unplaced)", home())
        for _ in range(diagnostics):
            started = await pace.step("diagnostic start -> item", start(placement))
            session = started.json() if isinstance(started, Answer) else {}
            current = session.get("current_item")
            while current:
                await pace.step("diagnostic item page", placement.get(f"/v1/sessions/{session['id']}"))
                body = {
                    "position": current["position"],
                    "item_id": current["item_id"],
                    "choice": rng.randrange(len(current["options"])),
                }
                reply = await pace.step("diagnostic answer -> next", answer(placement, session["id"], body))
                current = reply.get("next_item") if isinstance(reply, dict) else None
        for _ in range(120):
            path = await progress.get("/v1/me/path")
            if path.status_code == 200:
                break
            await asyncio.sleep(0.5)
        await pace.step("home (path)", home())
        level = path.json().get("current_level")

        async def sessions() -> list[Answer]:
            path = await progress.get("/v1/me/path")
            listing = await progress.get("/v1/sessions", params={"level": level, "upcoming": "true", "limit": 50})
            return [path, listing]

        await pace.step("sessions", sessions())
    finally:
        for wire in (placement, progress, certification):
            wire.close()


async def start(placement: Wire) -> Answer:
    """Start (the page renders the first item from the start's answer)."""
    return await placement.post("/v1/sessions")


async def answer(placement: Wire, session_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the answer (the page renders the next item from its answer)."""
    return dict((await placement.post(f"/v1/sessions/{session_id}/answers", json_body=body)).json())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--officials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--think", type=float, default=3.0, help="mean seconds a person pauses between pages")
    parser.add_argument(
        "--warmup", type=int, default=10, help="officials (and as many API ones) run first, not counted"
    )
    parser.add_argument(
        "--diagnostics",
        type=int,
        default=3,
        help="diagnostics each official takes in turn (each start is measured; more starts, steadier figures)",
    )
    parser.add_argument(
        "--items", type=int, default=6, help="items per diagnostic (placement's minimum and maximum length here)"
    )
    args = parser.parse_args()
    urls = {s: fresh_database(s) for s in SERVICES}
    for name in ("placement", "progress"):
        asyncio.run(importlib.import_module(f"services.{name}.seed").seed(urls[name]))
    ports = {s: free_port() for s in SERVICES}
    peers = {f"LMS_{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()}
    with ExitStack() as stack:
        # three services on one PostgreSQL (100 connections): pools small enough for all of them
        extra = {
            **peers,
            "LMS_PLACEMENT_RETAKE_COOLDOWN_DAYS": "0",
            "LMS_PLACEMENT_MIN_ITEMS": str(args.items),
            "LMS_PLACEMENT_MAX_ITEMS": str(args.items),
            "LMS_DB_POOL_SIZE": "10",
            "LMS_DB_MAX_OVERFLOW": "5",
        }
        servers = {s: stack.enter_context(service_process(s, urls[s], ports[s], **extra)) for s in SERVICES}
        bases = {s: base for s, (base, _proc) in servers.items()}
        web_port = free_port()
        web_base = f"http://127.0.0.1:{web_port}"
        env = service_env("web", "", **peers, LMS_WEB_COOKIE_SECURE="false", LMS_WEB_SESSION_SECRET="bench-" * 6)
        cmd = [sys.executable, "-m", "services.cli", "serve", "web", "--port", str(web_port)]
        web_process = stack.enter_context(process(cmd, f"{web_base}/health/ready", env))

        async def health(client: FastClient, _i: int):  # type: ignore[no-untyped-def]
            return await client.request("GET", "/health/live")

        ceiling = asyncio.run(run_load("web /health/live", health, base_url=web_base, total=3000, concurrency=32))

        async def everyone(officials: range, think: float) -> tuple[Timer, Timer]:
            """Each web official beside an API official, taking turns."""
            web, api = Timer(), Timer()
            journeys = []
            for n in officials:
                turns, seed = Turns(), args.seed * 100_003 + n
                journeys.append(
                    via_web(n, web_base, Pace("web", web, turns, random.Random(seed), think), args.diagnostics)
                )
                journeys.append(
                    via_api(n, bases, Pace("api", api, turns, random.Random(seed), think), args.diagnostics)
                )
            started = time.perf_counter()
            await asyncio.gather(*journeys)
            seconds = time.perf_counter() - started
            for result in (*web.results.values(), *api.results.values()):
                result.seconds = seconds
            return web, api

        warm = range(100_000, 100_000 + args.warmup)
        asyncio.run(everyone(warm, think=0.2))  # connections, caches and code paths warm; not counted
        opened, sent = Wire.opened, Browser.sent
        pids = {"web": web_process.pid, **{s: proc.pid for s, (_base, proc) in servers.items()}}
        cpu = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        own = time.process_time()
        web, api = asyncio.run(everyone(range(args.officials), think=args.think))
        own = time.process_time() - own
        cpu = {name: tree_cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
        opened, sent = Wire.opened - opened, Browser.sent - sent
        rows: list[Result] = []
        for name in web.results:
            page, calls = web.results[name], api.results.get(name)
            page.name = f"page: {name}"
            rows.append(page)
            if calls is not None:
                calls.name = "  API calls it makes"
                rows.append(calls)
        report(
            f"{args.officials} concurrent officials: web pages beside the API calls they make", rows, ceiling=ceiling
        )
        for name in web.results:
            page, calls = web.results[name], api.results.get(name)
            if calls and calls.latencies:
                over = page.pct(95) / calls.pct(95) - 1 if calls.pct(95) else float("nan")
                low, high = over_interval(page.latencies, calls.latencies, rng=random.Random(args.seed))
                console.print(
                    f"{name}: page p95 {page.pct(95):.1f} ms, API p95 {calls.pct(95):.1f} ms, over {over:+.0%}"
                    f" (95 % interval {low:+.0%} to {high:+.0%}; at p50 {page.pct(50):.1f} against"
                    f" {calls.pct(50):.1f} ms; {len(page.latencies)} pages, {len(calls.latencies)} API steps)"
                )
        steps = sum(len(r.latencies) for r in (*web.results.values(), *api.results.values()))
        console.print(f"{opened} connections opened by the load generator for {steps} measured steps")
        console.print(
            f"CPU: web app {cpu['web'] * 1000 / sent:.2f} ms per request it served ({sent} requests, measured or"
            f" not); services {', '.join(f'{s} {cpu[s]:.1f} s' for s in SERVICES)}; load generator {own:.1f} s"
        )


def over_interval(
    pages: list[float], calls: list[float], rng: random.Random, resamples: int = 2000
) -> tuple[float, float]:
    """How far the page's p95 is over its calls' p95, as a 95 % bootstrap interval: both sets
    resampled with replacement, so a single run says how much of the figure is chance (with 300
    starts, the p95 is the 15th slowest; one slow moment moves it)."""
    seed = rng.randrange(2**32)
    draw = np.random.default_rng(seed)
    ratios = p95s(np.asarray(pages), resamples, draw) / p95s(np.asarray(calls), resamples, draw) - 1
    low, high = np.quantile(ratios, [0.025, 0.975])
    return float(low), float(high)


def p95s(values: Any, resamples: int, draw: Any) -> Any:
    """The p95 (as ``Result.pct`` takes it: the value at index int(0.95 n) in order) of each resample."""
    n = len(values)
    k = min(n - 1, int(0.95 * n))
    samples = values[draw.integers(0, n, size=(resamples, n))]
    return np.partition(samples, k, axis=1)[:, k]


if __name__ == "__main__":
    main()
