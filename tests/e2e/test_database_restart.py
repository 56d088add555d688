"""A database restart while the services run: they report not-ready and answer 503 problems,
then recover on their own, without being restarted."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import httpx

from services.common import embedded
from services.common.db import ensure_database, with_database
from services.common.settings import data_dir
from tests.e2e.stack import SERVICES, Stack, eventually
from tests.support import Keys, free_port

# One endpoint per service that needs the database.
PROBES = {"placement": "/v1/results", "progress": "/v1/me/enrolments", "certification": "/v1/me/certificates"}


async def test_services_ride_out_a_database_restart(keys: Keys, tmp_path: Path) -> None:
    # A dedicated cluster: restarting the shared test server would disturb other tests.
    folder = f"pg-restart-{uuid.uuid4().hex[:8]}"
    admin = embedded.server_url(folder)
    server = embedded.cluster(folder)
    from services.common import migrations

    urls = {}
    for service in SERVICES:
        await ensure_database(admin, f"r_{service}")
        urls[service] = with_database(admin, f"r_{service}")
        await asyncio.to_thread(migrations.upgrade, service, urls[service])
    stack = Stack(keys=keys, urls=urls, ports={s: free_port() for s in SERVICES}, log_dir=tmp_path)
    headers = keys.headers("learner", sub="official-restart")
    try:
        for service in SERVICES:
            stack.start(service)
        async with httpx.AsyncClient(timeout=5) as client:
            for service, path in PROBES.items():
                assert (await client.get(stack.base(service) + path, headers=headers)).status_code == 200

            server.stop()

            async def all_not_ready() -> bool:
                codes = [(await client.get(stack.base(s) + "/health/ready")).status_code for s in SERVICES]
                return codes == [503] * 3

            await eventually(all_not_ready, within=20)
            for service, path in PROBES.items():
                response = await client.get(stack.base(service) + path, headers=headers)
                assert response.status_code == 503, (service, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
            assert (await client.get(stack.base("placement") + "/health/live")).status_code == 200

            server.start()

            async def all_ready() -> bool:
                codes = [(await client.get(stack.base(s) + "/health/ready")).status_code for s in SERVICES]
                return codes == [200] * 3

            await eventually(all_ready, within=30)

            async def probes_pass() -> bool:
                codes = [(await client.get(stack.base(s) + p, headers=headers)).status_code for s, p in PROBES.items()]
                return codes == [200] * 3

            await eventually(probes_pass, within=15)
            assert all(proc.poll() is None for procs in stack.procs.values() for proc in procs)
    finally:
        stack.stop_all()
        embedded.stop(folder)
        shutil.rmtree(data_dir() / folder, ignore_errors=True)
