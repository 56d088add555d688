"""Issue and sign certificates through the real service process (PUT from progress: idempotency
check, serial, Open Badges credential, Ed25519 VC-JWT, certificate + audit + HR-feed change rows in
one transaction), against two ceilings measured in the same run: bare Ed25519 signing of the same
credential in this process, and a bare asyncpg INSERT of the certificate row.

    .venv/bin/python bench/bench_certification_issue.py [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from _common import FastClient, Reply, Result, fresh_database, pool_load, report, run_load, service, token

from services.certification.domain import credential as vc
from services.certification.domain.keys import new_key
from tests.support import free_port


def bare_sign(n: int) -> Result:
    kid, _jwk, _pem, key = new_key("bench")
    facts = vc.CertificateFacts(uuid.uuid4(), "LMS-2026-L2-000001-8", "o", "김민수", 2, datetime.now(UTC), None, 1, 7)
    result = Result("bare Ed25519 sign of the same credential (in process)")
    started = time.perf_counter()
    for _ in range(n):
        cred = vc.build_credential(facts, issuer_url="http://x", issuer_name="A", base_url="http://x")
        vc.sign(cred, key, kid)
        result.units += 1
    result.seconds = time.perf_counter() - started
    return result


async def bare_insert(url: str, n: int, concurrency: int) -> Result:
    sql = (
        "INSERT INTO certificate (id, serial, serial_no, official_id, official_name, org, level, curriculum_version,"
        " completed_at, issued_at, status, status_list, status_index, origin, kid, vc_jwt, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, 'n', 'o', 1, 'v', now(), now(), 'active', 9, $6, 'bench', 'k', $5, now(), now())"
    )
    body = "x" * 2400  # about the size of a VC-JWT

    async def insert(conn: Any, i: int) -> object:
        return await conn.execute(sql, uuid.uuid4(), f"BARE-{i}", 10_000_000 + i, f"bare-{i}", body, i)

    return await pool_load(url, "bare asyncpg INSERT of a certificate row", n, concurrency, insert)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    url = fresh_database("certification")
    port = free_port()
    auth = {"Authorization": f"Bearer {token('service', sub='service:progress')}"}
    run = uuid.uuid4().hex[:6]

    async def issue(client: FastClient, i: int) -> Reply:
        official = f"bench-{run}-{i}"
        body = json.dumps(
            {
                "official": {"id": official, "name": "김민수", "org": "SEOUL-01"},
                "completed_at": "2026-05-01T06:00:00Z",
                "curriculum_version": "2026.1",
            }
        ).encode()
        return await client.request(
            "PUT", f"/v1/officials/{official}/levels/{i % 5}/certificate", headers=auth, body=body
        )

    async def repeat(client: FastClient, i: int) -> Reply:
        return await issue(client, i)  # same officials again: the idempotent 200 path

    with service("certification", url, port, LMS_CERTIFICATION_WEBHOOKS_ENABLED="false") as base:
        asyncio.run(run_load("warm-up", lambda c, i: issue(c, 10_000_000 + i), base_url=base, total=200, concurrency=8))
        created = asyncio.run(
            run_load(
                "PUT certificate: issue + sign (201)",
                issue,
                base_url=base,
                total=args.requests,
                concurrency=args.concurrency,
                ok=lambda r: r.status_code == 201,
            )
        )
        repeated = asyncio.run(
            run_load(
                "PUT certificate again (200, idempotent)",
                repeat,
                base_url=base,
                total=args.requests,
                concurrency=args.concurrency,
                ok=lambda r: r.status_code == 200,
            )
        )
    signing = bare_sign(5000)
    insert = asyncio.run(bare_insert(url, args.requests, args.concurrency))
    report("Issue and sign (target >= 300/s)", [created, repeated, signing], unit="certs/s", ceiling=insert)


if __name__ == "__main__":
    main()
