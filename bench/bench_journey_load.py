"""Journey load: N concurrent officials (default 500) take the adaptive diagnostic on placement,
wait for progress to place them (the outbox relay), and post learning events (batches and single
events) to progress, while certification serves the public key set and verification. All three
services run as real processes, one uvicorn worker each, on this machine.

Reports throughput, p50 and p99 per endpoint, and errors (which must be zero), beside a ceiling
measured in the same run: the bare /health/live of the same placement process.

Two shapes of load:
- no pause (the default): every official answers as fast as the services reply;
- capacity (``--think 10``): officials arrive spread evenly at random over ``--arrival`` seconds
  (default: the think time, so 3,000 officials make 300 diagnostic starts a second; ``--arrival 60``
  is a class or a department arriving within a minute) and pause between answers like a quick
  person (exponential, mean ``--think`` seconds). The capacity of a set-up is the largest
  ``--officials`` served with 0 errors and answer p99 at most 200 ms; ``--workers N`` runs every
  service with N server processes (``LMS_WORKERS``) to show how it scales.

    .venv/bin/python bench/bench_journey_load.py [--officials 500] [--events 10] [--think S] [--arrival S]
                                                 [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import random
import time
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime

from _common import FastClient, Result, console, fresh_database, report, run_load, service, token

from tests.support import free_port

SERVICES = ("placement", "progress", "certification")


class Recorder:
    def __init__(self) -> None:
        self.results: dict[str, Result] = defaultdict(lambda: Result(""))

    async def call(
        self,
        client: FastClient,
        name: str,
        method: str,
        path: str,
        tok: str,
        body: object = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> object:
        payload = json.dumps(body).encode() if body is not None else b""
        started = time.perf_counter()
        reply = await client.request(method, path, headers={"Authorization": f"Bearer {tok}"}, body=payload)
        result = self.results[name]
        result.name = name
        result.latencies.append(time.perf_counter() - started)
        if reply.status_code in ok:
            result.units += 1
            return reply.json() if reply.body else None
        result.errors += 1
        if result.errors <= 3:
            console.print(f"[red]{name}: {reply.status_code} {reply.body[:200]!r}[/]")
        return None


def respond(item: dict, ability: float, rng: random.Random) -> int:
    p = item["c"] + (1 - item["c"]) / (1 + math.exp(-item["a"] * (ability - item["b"])))
    if rng.random() < p:
        return int(item["answer"])
    return rng.choice([i for i in range(len(item["options"])) if i != item["answer"]])


async def official(
    n: int,
    bases: dict[str, str],
    bank: dict,
    modules: dict[int, list[str]],
    rec: Recorder,
    events_each: int,
    seed: int,
    think: float = 0.0,
    arrival: float = 0.0,
) -> None:
    rng = random.Random(seed * 100_003 + n)
    if think:  # arrivals spread over the arrival window, then a pause before every answer
        await asyncio.sleep(rng.uniform(0, arrival or think))
    sub = f"load-{seed}-{n}"
    learner = token("learner", sub=sub, name=f"Official {n}", org=f"ORG-{n % 20:02d}")
    placement, progress = FastClient(bases["placement"]), FastClient(bases["progress"])
    try:
        session = await rec.call(placement, "POST /v1/sessions", "POST", "/v1/sessions", learner)
        if not isinstance(session, dict):
            return
        current, ability = session["current_item"], rng.gauss(0, 1)
        level = None
        while current:
            if think:
                await asyncio.sleep(rng.expovariate(1 / think))
            answer = {
                "position": current["position"],
                "item_id": current["item_id"],
                "choice": respond(bank[current["item_id"]], ability, rng),
            }
            out = await rec.call(
                placement,
                "POST /v1/sessions/{id}/answers",
                "POST",
                f"/v1/sessions/{session['id']}/answers",
                learner,
                answer,
            )
            if not isinstance(out, dict):
                return
            current = out.get("next_item")
            if out.get("result"):
                level = out["result"]["level"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # placement -> progress through the outbox
            path = await rec.call(progress, "GET /v1/me/path", "GET", "/v1/me/path", learner, ok=(200, 404))
            if isinstance(path, dict) and path.get("current_level") is not None:
                break
            await asyncio.sleep(0.5)
        codes = modules.get(level or 0, [])
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "id": f"{sub}-{i}",
                "official_id": sub,
                "module": codes[i % len(codes)],
                "verb": "started",
                "occurred_at": now,
            }
            for i in range(events_each)
        ]
        half = len(events) // 2
        await rec.call(progress, "POST /v1/events (batch)", "POST", "/v1/events", learner, {"events": events[:half]})
        for event in events[half:]:
            await rec.call(progress, "POST /v1/events (single)", "POST", "/v1/events", learner, {"events": [event]})
    finally:
        await placement.close()
        await progress.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--officials", type=int, default=500)
    parser.add_argument("--events", type=int, default=10, help="learning events per official")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--think", type=float, default=0.0, help="mean pause before each answer, seconds")
    parser.add_argument(
        "--arrival",
        type=float,
        default=0.0,
        help="with --think: seconds over which officials arrive (default: the think time)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes per service")
    args = parser.parse_args()
    urls = {s: fresh_database(s) for s in SERVICES}
    for name in ("placement", "progress"):  # demo data: the seed item bank and the programme
        module = importlib.import_module(f"services.{name}.seed")
        asyncio.run(module.seed(urls[name]))
    ports = {s: free_port() for s in SERVICES}
    peers = {f"LMS_{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()}
    peers["LMS_WORKERS"] = str(args.workers)
    with ExitStack() as stack:
        bases = {s: stack.enter_context(service(s, urls[s], ports[s], **peers)) for s in SERVICES}
        admin = token("admin")

        async def prepare() -> tuple[dict, dict[int, list[str]]]:
            client = FastClient(bases["placement"])
            bank: dict = {}
            query = "?limit=500"
            while query:  # the whole bank, page by page
                reply = await client.request("GET", f"/v1/items{query}", headers={"Authorization": f"Bearer {admin}"})
                listed = reply.json()
                bank.update({i["id"]: i for i in listed["items"]})  # type: ignore[index]
                query = f"?limit=500&cursor={listed['next_cursor']}" if listed.get("next_cursor") else ""  # type: ignore[union-attr]
            await client.close()
            client = FastClient(bases["progress"])
            reply = await client.request("GET", "/v1/curricula/current", headers={"Authorization": f"Bearer {admin}"})
            curriculum = reply.json()
            await client.close()
            modules = {
                lv["level"]: [m["code"] for c in lv["courses"] for m in c["modules"]] for lv in curriculum["levels"]
            }  # type: ignore[index]
            return bank, modules

        bank, modules = asyncio.run(prepare())

        async def health(client: FastClient, _i: int):  # type: ignore[no-untyped-def]
            return await client.request("GET", "/health/live")

        ceiling = asyncio.run(
            run_load("placement /health/live", health, base_url=bases["placement"], total=5000, concurrency=32)
        )
        rec = Recorder()

        async def everyone() -> float:
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    official(n, bases, bank, modules, rec, args.events, args.seed, args.think, args.arrival)
                    for n in range(args.officials)
                )
            )
            return time.perf_counter() - started

        seconds = asyncio.run(everyone())
        for result in rec.results.values():
            result.seconds = seconds
        rows = sorted(rec.results.values(), key=lambda r: r.name)
        report(
            f"{args.officials} concurrent officials, {args.workers} worker(s) per service, "
            f"{'no pause' if not args.think else f'{args.think:g} s mean pause'}"
            f"{f', arriving over {args.arrival or args.think:g} s' if args.think else ''} ({seconds:.1f} s wall)",
            rows,
            ceiling=ceiling,
        )
        total = sum(r.units + r.errors for r in rows)
        errors = sum(r.errors for r in rows)
        console.print(
            f"requests: {total:,} in {seconds:.1f} s = {total / seconds:,.0f} req/s overall; errors: {errors}"
        )
        answers = rec.results["POST /v1/sessions/{id}/answers"]
        p99 = answers.pct(99)
        served = errors == 0 and p99 <= 200
        console.print(
            f"answers: p99 {p99:.1f} ms (at most 200 ms for capacity); "
            f"{'served' if served else 'NOT served'}: {args.officials} officials with {errors} errors"
        )


if __name__ == "__main__":
    main()
