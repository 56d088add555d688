"""Answering an item over HTTP (store the response, update the estimate, pick the next item),
through a real `lms serve placement` process with one worker, on a 500-item 3PL bank: simulated
officials start a diagnostic and answer until it completes (answers follow the IRT model), many at
once. Printed beside the ceiling measured in the same run on the same database: a bare asyncpg
INSERT of one response row per transaction at the same concurrency.

Targets: >= 1,500 answers/s with p99 <= 50 ms on one worker; at most 600 us server CPU per answer.

With ``--profile DIR`` py-spy samples the server while it answers and while it serves whoami
(``DIR/answers.txt``, ``DIR/whoami.txt``, collapsed stacks) and the functions most on the stack are
printed; the sampling slows the server, so the rates of such a run are not the service's.

    .venv/bin/python bench/bench_placement_answer.py [--answers N] [--concurrency C] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import time
import uuid

import asyncpg
import httpx
import msgspec
from _common import (
    CpuShare,
    FastClient,
    Result,
    fresh_database,
    postgres_pid,
    profiled,
    report,
    run_load,
    service_process,
    token,
    top_frames,
    tree_cpu_seconds,
)

from services.common.db import plain_url
from services.placement.domain.cat.simulate import synthetic_bank

PORT = int(os.environ.get("BENCH_PLACEMENT_PORT", "18401"))


def bank_rows() -> tuple[list[dict[str, object]], dict[str, tuple[float, float, float, int]]]:
    bank = synthetic_bank(500, 1.5, seed=7, three_pl=True)
    names = ["data-literacy", "data-collection", "data-analysis", "analysis-tools", "modelling-ai"]
    rows, params = [], {}
    for i in range(len(bank)):
        code = f"B-{i:04d}"
        rows.append(
            {
                "code": code,
                "domain": names[int(bank.domain[i])],
                "a": float(bank.a[i]),
                "b": float(bank.b[i]),
                "c": float(bank.c[i]),
                "stem": {"ko": f"문항 {i}", "en": f"Item {i}"},
                "options": ["A", "B", "C", "D"],
                "answer": i % 4,
            }
        )
        params[code] = (float(bank.a[i]), float(bank.b[i]), float(bank.c[i]), i % 4)
    return rows, params


async def load_bank(base: str) -> dict[str, tuple[float, float, float, int]]:
    """Import the bank and publish it through the service; item id -> (a, b, c, key)."""
    rows, params = bank_rows()
    admin = {"Authorization": f"Bearer {token('admin', sub='bench-admin')}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.post("/v1/items/import", json=rows, headers=admin)
        r.raise_for_status()
        (await client.post("/v1/bank/versions", json={"note": "bench"}, headers=admin)).raise_for_status()
        by_id: dict[str, tuple[float, float, float, int]] = {}
        cursor = None
        while True:
            q = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/items", params=q, headers=admin)).json()
            by_id.update({i["id"]: params[i["code"]] for i in page["items"]})
            if not (cursor := page["next_cursor"]):
                break
    return by_id


async def answers_over_http(
    base: str, by_id: dict[str, tuple[float, float, float, int]], total: int, concurrency: int
) -> tuple[Result, Result, int]:
    answers = Result("POST /v1/sessions/{id}/answers")
    starts = Result("POST /v1/sessions (start)")
    completed = 0
    remaining = total
    rng = random.Random(3)
    decode = msgspec.json.decode

    async def worker() -> None:
        nonlocal remaining, completed
        client = FastClient(base)
        try:
            while remaining > 0:
                headers = {"Authorization": f"Bearer {token('learner', sub=str(uuid.uuid4()), name='B', org='O')}"}
                theta = rng.gauss(0.0, 1.0)
                t0 = time.perf_counter()
                reply = await client.request("POST", "/v1/sessions", headers=headers)
                starts.latencies.append(time.perf_counter() - t0)
                if reply.status_code != 201:
                    starts.errors += 1
                    continue
                starts.units += 1
                session = decode(reply.body)
                item = session["current_item"]
                while item is not None and remaining > 0:
                    remaining -= 1
                    a, b, c, key = by_id[item["item_id"]]
                    # the examinee's answer under the item's 3PL model (plain floats: the load generator
                    # shares the machine's two cores with the server, so it is kept cheap)
                    right = rng.random() < c + (1.0 - c) / (1.0 + math.exp(-a * (theta - b)))
                    body = json.dumps(
                        {
                            "position": item["position"],
                            "item_id": item["item_id"],
                            "choice": key if right else (key + 1) % 4,
                        }
                    ).encode()
                    t0 = time.perf_counter()
                    reply = await client.request(
                        "POST", f"/v1/sessions/{session['id']}/answers", headers=headers, body=body
                    )
                    answers.latencies.append(time.perf_counter() - t0)
                    if reply.status_code != 200:
                        answers.errors += 1
                        break
                    answers.units += 1
                    out = decode(reply.body)
                    item = out["next_item"]
                    if out["status"] == "completed":
                        completed += 1
        finally:
            await client.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    answers.seconds = starts.seconds = time.perf_counter() - t0
    return answers, starts, completed


async def bare_insert(url: str, total: int, concurrency: int) -> Result:
    """The ceiling: one response row per transaction with asyncpg, nothing else."""
    result = Result("bare asyncpg INSERT INTO response")
    conn = await asyncpg.connect(plain_url(url))
    try:
        version = await conn.fetchval("SELECT id FROM bank_version WHERE active")
        item = await conn.fetchval("SELECT item_id FROM version_item WHERE version_id = $1 AND idx = 0", version)
        sid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO diagnostic_session (id, official_id, official_name, official_org, version_id, status, config, "
            "items, scored, responses, current_pretest, theta, se, started_at, last_activity_at) "
            "VALUES ($1, 'ceiling', '', '', $2, 'completed', '{}', '{}', '{}', '{}', false, 0, 1, now(), now())",
            sid,
            version,
        )
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(plain_url(url), min_size=concurrency, max_size=concurrency)
    counter = iter(range(total))
    sql = (
        "INSERT INTO response (session_id, position, version_id, idx, item_id, choice, correct, scored, answered_at, "
        "reply) VALUES ($1, $2, $3, 0, $4, 0, true, true, now(), '{}')"
    )

    async def worker() -> None:
        async with pool.acquire() as c:
            for i in counter:
                t0 = time.perf_counter()
                await c.execute(sql, sid, i + 1, version, item)
                result.latencies.append(time.perf_counter() - t0)
                result.units += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - t0
    await pool.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", metavar="DIR", help="sample the server with py-spy into DIR")
    args = parser.parse_args()
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    spied = {
        what: os.path.join(args.profile, f"{what}.txt") if args.profile else None for what in ("answers", "whoami")
    }
    url = fresh_database("placement")
    with service_process("placement", url, PORT, LMS_PLACEMENT_RELAY_ENABLED="false") as (base, server):
        pid = server.pid  # CPU is read over the server's process tree (/proc/<pid>/stat)
        by_id = asyncio.run(load_bank(base))
        share = CpuShare(pid, postgres_pid(url))
        share.start()
        cpu0 = tree_cpu_seconds(pid)
        with profiled(pid, spied["answers"]):
            answers, starts, completed = asyncio.run(answers_over_http(base, by_id, args.answers, args.concurrency))
        cpu1 = tree_cpu_seconds(pid)
        split = share.line(answers.units + starts.units, "request")
        learner = {"Authorization": f"Bearer {token('learner')}"}
        with profiled(pid, spied["whoami"]):
            whoami = asyncio.run(
                run_load(
                    "GET /v1/whoami (kernel: auth + middleware, no database)",
                    lambda client, i: client.request("GET", "/v1/whoami", headers=learner),
                    base_url=base,
                    total=args.answers,
                    concurrency=args.concurrency,
                )
            )
        cpu2 = tree_cpu_seconds(pid)
    ceiling = asyncio.run(bare_insert(url, args.answers, args.concurrency))
    report(
        f"Answering over HTTP: one worker, {args.concurrency} concurrent officials, {completed} diagnostics completed",
        [answers, starts, whoami],
        unit="per s",
        ceiling=ceiling,
    )
    per_answer = (cpu1 - cpu0) / max(answers.units + starts.units, 1) * 1e6
    per_whoami = (cpu2 - cpu1) / max(whoami.units, 1) * 1e6
    print(
        f"answers: {answers.rate:,.0f}/s (target >= 1,500), p99 {answers.pct(99):.1f} ms (target <= 50 ms); "
        f"bare insert ceiling {ceiling.rate:,.0f}/s; same-run authenticated no-op endpoint {whoami.rate:,.0f}/s.\n"
        f"server CPU per request: answers (starts included) {per_answer:.0f} us (target <= 600 us), "
        f"whoami {per_whoami:.0f} us; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared)\n"
        f"answers and starts: {split}"
    )
    for what, raw in spied.items():
        if raw is not None:
            print_profile(what, raw)


def print_profile(what: str, raw: str) -> None:
    """The server's busy samples: the share inside the app (below uvicorn's call of it) and there the
    functions most on the stack, with their own share (time in the function itself)."""
    inside, rows = top_frames(raw, "run_asgi", 30)
    print(f"\n{what}: {inside:.0%} of the busy server's py-spy samples are in the app ({raw}); of those:")
    for share, own, frame in rows:
        print(f"  {share:6.1%} on the stack, {own:6.1%} own  {frame}")
    _, rows = top_frames(raw, "", 400)
    print(f"{what}: the functions with the most own samples in the whole server:")
    for _share, own, frame in sorted(rows, key=lambda row: -row[1])[:15]:
        print(f"  {own:6.1%} own  {frame}")


if __name__ == "__main__":
    main()
