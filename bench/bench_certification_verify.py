"""Verification through the real service process: GET /v1/verify/{serial} (status lookup) and
POST /v1/verify (VC-JWT header, Ed25519 signature, claims and status), against ceilings measured in
the same run: a bare Ed25519 VC-JWT verification in this process, and the service's /health/live
(the framework + middleware ceiling).

    .venv/bin/python bench/bench_certification_verify.py [--requests N] [--concurrency C] [--certificates K]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import httpx
from _common import FastClient, Reply, Result, fresh_database, report, run_load, service, token

from services.certification.domain import credential as vc
from services.certification.domain.keys import new_key
from tests.support import free_port


def bare_verify(n: int) -> Result:
    kid, _jwk, _pem, key = new_key("bench")
    facts = vc.CertificateFacts(uuid.uuid4(), "LMS-2026-L2-000001-8", "o", "김민수", 2, datetime.now(UTC), None, 1, 7)
    cred = vc.build_credential(facts, issuer_url="http://x", issuer_name="A", base_url="http://x")
    jwt_token = vc.sign(cred, key, kid)
    keys = {kid: key.public_key()}
    result = Result("bare VC-JWT verify in process (our single-parse JWS check on cryptography)")
    started = time.perf_counter()
    for _ in range(n):
        vc.verify(jwt_token, keys, issuer_url="http://x")
        result.units += 1
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--certificates", type=int, default=200)
    args = parser.parse_args()
    url = fresh_database("certification")
    port = free_port()
    auth = {"Authorization": f"Bearer {token('service', sub='service:progress')}"}
    with service("certification", url, port, LMS_CERTIFICATION_WEBHOOKS_ENABLED="false") as base:
        certs = []
        with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
            for i in range(args.certificates):
                official = f"verify-{i}"
                r = http.put(
                    f"/v1/officials/{official}/levels/{i % 5}/certificate",
                    json={
                        "official": {"id": official, "name": "김민수", "org": "SEOUL-01"},
                        "completed_at": "2026-05-01T06:00:00Z",
                        "curriculum_version": "2026.1",
                    },
                )
                r.raise_for_status()
                certs.append(r.json())
        bodies = [json.dumps({"credential": c["credential"]}).encode() for c in certs]

        async def by_serial(client: FastClient, i: int) -> Reply:
            return await client.request("GET", f"/v1/verify/{certs[i % len(certs)]['serial']}")

        async def by_jwt(client: FastClient, i: int) -> Reply:
            return await client.request("POST", "/v1/verify", body=bodies[i % len(bodies)])

        async def live(client: FastClient, _i: int) -> Reply:
            return await client.request("GET", "/health/live")

        def valid(r: Reply) -> bool:
            return r.status_code == 200 and b'"valid":true' in r.body

        asyncio.run(run_load("warm-up", by_serial, base_url=base, total=500, concurrency=8))
        serial = asyncio.run(
            run_load(
                "GET /v1/verify/{serial}",
                by_serial,
                base_url=base,
                total=args.requests,
                concurrency=args.concurrency,
                ok=valid,
            )
        )
        posted = asyncio.run(
            run_load(
                "POST /v1/verify (VC-JWT)",
                by_jwt,
                base_url=base,
                total=args.requests,
                concurrency=args.concurrency,
                ok=valid,
            )
        )
        ceiling = asyncio.run(
            run_load("service /health/live", live, base_url=base, total=args.requests, concurrency=args.concurrency)
        )
    offline = bare_verify(20_000)
    report("Verify (target >= 3,000/s)", [serial, posted, offline], unit="verifications/s", ceiling=ceiling)


if __name__ == "__main__":
    main()
