"""Status lists served from the in-process cache (one version read per request, no re-signing)
by the real service process, against ceilings measured in the same run: the service's
/health/live, and a cache miss (rebuild, GZIP and sign a 131,072-entry list) timed in process.

    .venv/bin/python bench/bench_certification_status_list.py [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from _common import FastClient, Reply, Result, fresh_database, report, run_load, service, token

from services.certification.domain import credential as vc
from services.certification.domain import statuslist
from services.certification.domain.keys import new_key
from services.common.db import utcnow
from tests.support import free_port


def rebuild(n: int, revoked: int) -> Result:
    kid, _jwk, _pem, key = new_key("bench")
    indices = list(range(0, revoked * 7, 7))
    result = Result(f"cache miss: encode + sign a list with {revoked:,} bits set (in process)")
    started = time.perf_counter()
    for _ in range(n):
        cred = vc.status_list_credential(
            url="http://x/v1/status-lists/1/revocation",
            purpose="revocation",
            encoded_list=statuslist.encode(indices),
            issuer_url="http://x",
            valid_from=utcnow(),
        )
        vc.sign_status_list(cred, key, kid)
        result.units += 1
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    url = fresh_database("certification")
    port = free_port()
    with service("certification", url, port, LMS_CERTIFICATION_WEBHOOKS_ENABLED="false") as base:
        with httpx.Client(base_url=base, timeout=30) as http:
            service_auth = {"Authorization": f"Bearer {token('service', sub='service:progress')}"}
            admin = {"Authorization": f"Bearer {token('admin')}"}
            ids = []
            for i in range(100):
                r = http.put(
                    f"/v1/officials/sl-{i}/levels/{i % 5}/certificate",
                    json={
                        "official": {"id": f"sl-{i}", "name": "n", "org": "o"},
                        "completed_at": "2026-05-01T06:00:00Z",
                        "curriculum_version": "v",
                    },
                    headers=service_auth,
                )
                r.raise_for_status()
                ids.append(r.json()["id"])
            for cert_id in ids[:20]:
                http.post(f"/v1/admin/certificates/{cert_id}/revoke", json={"reason": "bench"}, headers=admin)
            etag = http.get("/v1/status-lists/1/revocation").headers["etag"]

        async def fetch(client: FastClient, _i: int) -> Reply:
            return await client.request("GET", "/v1/status-lists/1/revocation")

        async def conditional(client: FastClient, _i: int) -> Reply:
            return await client.request("GET", "/v1/status-lists/1/revocation", headers={"If-None-Match": etag})

        async def live(client: FastClient, _i: int) -> Reply:
            return await client.request("GET", "/health/live")

        asyncio.run(run_load("warm-up", fetch, base_url=base, total=500, concurrency=8))
        full = asyncio.run(
            run_load(
                "GET status list (200, from cache)",
                fetch,
                base_url=base,
                total=args.requests,
                concurrency=args.concurrency,
            )
        )
        not_modified = asyncio.run(
            run_load(
                "GET status list, If-None-Match (304)",
                conditional,
                base_url=base,
                total=args.requests,
                concurrency=args.concurrency,
                ok=lambda r: r.status_code == 304,
            )
        )
        ceiling = asyncio.run(
            run_load("service /health/live", live, base_url=base, total=args.requests, concurrency=args.concurrency)
        )
    miss = rebuild(200, 20)
    report("Status lists from cache", [full, not_modified, miss], unit="req/s", ceiling=ceiling)


if __name__ == "__main__":
    main()
