"""The xAPI Statements resource at scale, through the real progress service (one uvicorn process),
beside a bare asyncpg INSERT of the same rows and a bare indexed SELECT of the same filter,
measured in the same run:

- POST /xapi/statements, batches of 100 (target >= 3,000 statements/s) and one per request,
- GET /xapi/statements filtered by agent, agent + verb, activity + since, registration and verb
  alone (target p95 <= 50 ms), on a table built in SQL with generate_series.

    .venv/bin/python bench/bench_progress_xapi.py [--statements N] [--officials N] [--batches N]
        [--singles N] [--gets N] [--concurrency C]

National scale is ``--statements 10000000 --officials 1100000`` (the defaults keep the same
ratio, about nine statements per official, at a tenth of the size).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
import msgspec
from _common import FastClient, Reply, Result, console, fresh_database, pool_load, report, run_load, service, token

from services.common.db import plain_url
from services.progress.domain.xapi.statements import filter_keys
from services.progress.store.xapi_statements import INSERT, PAGE
from tests.support import free_port

HOME = "https://lms.example.go.kr"
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = ["experienced", "attempted", "answered", "completed"]
ACTIVITIES = 5000

# Rows built in the database: official o<n> (n = i % officials), one of four verbs, one of
# 5,000 activities, a registration on every tenth statement, stored one second apart.
GENERATE = """
INSERT INTO xapi_statement (id, stored, timestamp, official_id, verb_id, keys, statement, content_hash, voided)
SELECT id, stored, stored, 'o' || n, verb, keys, jsonb_build_object(
         'id', id, 'actor', jsonb_build_object('objectType', 'Agent', 'account',
             jsonb_build_object('homePage', $3::text, 'name', 'o' || n)),
         'verb', jsonb_build_object('id', verb), 'object', jsonb_build_object('objectType', 'Activity', 'id', act),
         'context', CASE WHEN reg IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('registration', reg) END,
         'timestamp', stored, 'stored', stored, 'version', '1.0.0',
         'authority', jsonb_build_object('objectType', 'Agent', 'account',
             jsonb_build_object('homePage', $3::text, 'name', 'service:bench'))),
       md5(id::text), false
FROM (
  SELECT i, id, n, verb, act, reg, stored,
         ARRAY['actor:account:' || $3 || '|o' || n, 'agent:account:' || $3 || '|o' || n,
               'ragent:account:' || $3 || '|o' || n, 'verb:' || verb, 'activity:' || act, 'ractivity:' || act]
         || CASE WHEN reg IS NULL THEN '{}'::text[] ELSE ARRAY['reg:' || reg] END AS keys
  FROM (
    SELECT i, gen_random_uuid() AS id, i % $4 AS n,
           ($5::text[])[1 + (i * 7) % 4] AS verb,
           'http://lms.example.go.kr/activity/' || (i * 13) % $6 AS act,
           CASE WHEN i % 10 = 0 THEN md5('reg' || (i / 10))::uuid::text END AS reg,
           timestamptz '2026-01-01' + i * interval '1 second' AS stored
    FROM generate_series($1::bigint, $2::bigint) AS i
  ) AS g
) AS k
"""


async def build(url: str, statements: int, officials: int) -> float:
    """The large table, in chunks of 500,000 rows with the GIN index dropped and rebuilt after."""
    conn = await asyncpg.connect(plain_url(url))
    started = time.perf_counter()
    try:
        await conn.execute("DROP INDEX IF EXISTS ix_xapi_statement_keys")
        verbs = [ADL + v for v in VERBS]
        for start in range(0, statements, 500_000):
            end = min(statements, start + 500_000) - 1
            await conn.execute(GENERATE, start, end, HOME, officials, verbs, ACTIVITIES)
            console.print(f"  {end + 1:,} statements")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute(
            "CREATE INDEX ix_xapi_statement_keys ON xapi_statement USING gin (keys) WITH (fastupdate = off)"
        )
        await conn.execute("ANALYZE xapi_statement")
    finally:
        await conn.close()
    return time.perf_counter() - started


def statement(run: str, i: int, officials: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}-{i}")),
        "actor": {"objectType": "Agent", "account": {"homePage": HOME, "name": f"o{i % officials}"}},
        "verb": {"id": ADL + VERBS[i % 4], "display": {"en-US": VERBS[i % 4]}},
        "object": {"objectType": "Activity", "id": f"http://lms.example.go.kr/activity/{i % ACTIVITIES}"},
        "result": {"score": {"scaled": 0.5}, "success": True, "duration": "PT3M"},
        "timestamp": "2026-04-01T10:00:00Z",
    }


async def bare_insert(url: str, run: str, batches: int, officials: int, concurrency: int) -> Result:
    """The ceiling: the service's own INSERT of the same rows, batches of 100, without HTTP,
    validation or the checks around it."""
    stored = datetime.now(UTC)

    async def call(conn: Any, b: int) -> None:
        rows = [statement(run, b * 100 + j, officials) for j in range(100)]
        await conn.fetch(
            INSERT,
            [uuid.UUID(r["id"]) for r in rows],
            stored,
            [stored] * 100,
            [r["actor"]["account"]["name"] for r in rows],
            [r["verb"]["id"] for r in rows],
            [msgspec.json.encode(filter_keys(r)).decode() for r in rows],
            [msgspec.json.encode(r).decode() for r in rows],
            ["x"] * 100,
            [None] * 100,
        )

    return await pool_load(url, "bare asyncpg INSERT, batches of 100", batches, concurrency, call, units_per_call=100)


def filters(officials: int, rng: random.Random) -> list[tuple[str, dict[str, str], list[str]]]:
    """(name, query parameters, filter keys) of each filtered GET measured."""

    def agent() -> tuple[str, str]:
        name = f"o{rng.randrange(officials)}"
        return msgspec.json.encode({"account": {"homePage": HOME, "name": name}}).decode(), f"account:{HOME}|{name}"

    out = []
    for _ in range(200):
        a, key = agent()
        verb = ADL + rng.choice(VERBS)
        act = f"http://lms.example.go.kr/activity/{rng.randrange(ACTIVITIES)}"
        reg = str(uuid.UUID(bytes=__import__("hashlib").md5(f"reg{rng.randrange(officials)}".encode()).digest()))
        out += [
            ("agent", {"agent": a}, [f"agent:{key}"]),
            ("agent + verb", {"agent": a, "verb": verb}, [f"agent:{key}", f"verb:{verb}"]),
            (
                "activity + since",
                {"activity": act, "since": "2026-01-02T00:00:00Z", "limit": "50"},
                [f"activity:{act}"],
            ),
            ("registration", {"registration": reg}, [f"reg:{reg}"]),
            ("verb, limit 50", {"verb": verb, "limit": "50"}, [f"verb:{verb}"]),
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--officials", type=int, default=110_000)
    parser.add_argument("--batches", type=int, default=200, help="batches of 100 statements")
    parser.add_argument("--singles", type=int, default=2000, help="one statement per request")
    parser.add_argument("--gets", type=int, default=400, help="filtered GETs per filter")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    url = fresh_database("progress")
    console.print(f"building {args.statements:,} statements of {args.officials:,} officials ...")
    console.print(f"built in {asyncio.run(build(url, args.statements, args.officials)):.0f} s")
    auth = {"Authorization": f"Bearer {token('service', sub='service:bench')}", "X-Experience-API-Version": "1.0.3"}
    json_auth = {**auth, "Content-Type": "application/json"}
    run = uuid.uuid4().hex[:6]
    rng = random.Random(7)
    cases = filters(args.officials, rng)
    names = list(dict.fromkeys(c[0] for c in cases))

    async def post(client: FastClient, body: bytes) -> Reply:
        return await client.request("POST", "/xapi/statements", headers=json_auth, body=body)

    with service("progress", url, free_port(), LMS_PROGRESS_RECOMPUTE_WORKER="false") as base:

        async def run_all() -> tuple[list[Result], list[Result]]:
            await run_load(
                "warm-up",
                lambda c, i: post(
                    c, msgspec.json.encode([statement("w" + run, i * 10 + j, args.officials) for j in range(10)])
                ),
                base_url=base,
                total=50,
                concurrency=4,
            )
            bodies = [
                msgspec.json.encode([statement(run, i * 100 + j, args.officials) for j in range(100)])
                for i in range(args.batches)
            ]
            batches = await run_load(
                "POST /xapi/statements, batches of 100",
                lambda c, i: post(c, bodies[i]),
                base_url=base,
                total=len(bodies),
                concurrency=args.concurrency,
                units_per_request=100,
            )
            singles = await run_load(
                "POST /xapi/statements, one per request",
                lambda c, i: post(c, msgspec.json.encode(statement("s" + run, i, args.officials))),
                base_url=base,
                total=args.singles,
                concurrency=args.concurrency,
            )
            gets = []
            for name in names:
                mine = [c for c in cases if c[0] == name]
                gets.append(
                    await run_load(
                        f"GET /xapi/statements?{name}",
                        lambda c, i, mine=mine: c.request(  # type: ignore[misc]
                            "GET", "/xapi/statements?" + urlencode(mine[i % len(mine)][1]), headers=auth
                        ),
                        base_url=base,
                        total=args.gets,
                        concurrency=args.concurrency,
                    )
                )
            return [batches, singles], gets

        posts, gets = asyncio.run(run_all())
    bare = asyncio.run(bare_insert(url, "b" + run, args.batches, args.officials, args.concurrency))
    agent_cases = [c for c in cases if c[0] == "agent"]

    async def select(conn: Any, i: int) -> None:
        sql = PAGE.format(where="NOT voided AND keys @> $1::text[]", order="DESC", limit=2)
        await conn.fetch(sql, agent_cases[i % len(agent_cases)][2], 501)

    bare_select = asyncio.run(
        pool_load(url, "bare asyncpg SELECT, the agent filter", args.gets, args.concurrency, select)
    )
    report(f"POST /xapi/statements (statements/s) on {args.statements:,} rows", posts, unit="units/s", ceiling=bare)
    report(f"Filtered GET /xapi/statements on {args.statements:,} rows", gets, unit="req/s", ceiling=bare_select)
    worst = max(g.pct(95) for g in gets)
    console.print(
        f"targets: batched >= 3,000 statements/s -> {posts[0].rate:,.0f}; filtered GET p95 <= 50 ms -> worst "
        f"{worst:.1f} ms; singles {posts[1].rate:,.0f} statements/s (p95 {posts[1].pct(95):.1f} ms)"
    )


if __name__ == "__main__":
    main()
