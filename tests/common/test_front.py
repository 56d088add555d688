"""The kernel's front middleware, over real HTTP: every request (401s and edge refusals included)
gets one access line carrying its request id, lines logged while serving it carry the same id,
probes are not logged, and the request metrics count routes by their template."""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from litestar import get

from services.common.app import ServiceSpec, build_app
from services.common.auth import allow
from services.placement.settings import get_settings
from tests.support import Keys, client_for

SERVICE = "placement"


@get("/v1/things/{thing_id:str}", opt=allow("learner"))
async def thing(thing_id: str) -> dict[str, str]:
    structlog.get_logger().info("looking_at_thing", thing_id=thing_id)
    return {"id": thing_id}


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_every_request_has_one_access_line_with_its_id(
    database_url: str, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = get_settings(database_url=database_url, relay_enabled=False, log_level="INFO", log_json=True)
    app = build_app(settings, ServiceSpec("t", "t", [thing]))
    async with client_for(app) as client:
        capsys.readouterr()
        ok = await client.get("/v1/things/a-1", headers={**keys.headers("learner"), "X-Request-ID": "trace-ok"})
        assert ok.status_code == 200 and ok.headers["x-request-id"] == "trace-ok"
        refused = await client.get("/v1/things/a-2", headers={"X-Request-ID": "trace-401"})
        assert refused.status_code == 401 and refused.headers["x-request-id"] == "trace-401"
        edge = await client.get("/v1/things/a%00b")
        assert edge.status_code == 400 and edge.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/health/live")).status_code == 200
        await asyncio.sleep(0.1)
        logged = lines(capsys.readouterr().out)
        metrics = (await client.get("/metrics", headers=keys.headers("admin"))).text
    access = [e for e in logged if e["event"] == "request"]
    by_id = {e["request_id"]: e for e in access}
    assert by_id["trace-ok"]["status"] == 200 and by_id["trace-ok"]["path"] == "/v1/things/a-1"
    assert by_id["trace-ok"]["service"] == "placement" and by_id["trace-ok"]["method"] == "GET"
    assert by_id["trace-401"]["status"] == 401
    stamp = datetime.fromisoformat(by_id["trace-ok"]["timestamp"].replace("Z", "+00:00"))
    assert by_id["trace-ok"]["timestamp"].endswith("Z") and abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert by_id[edge.headers["x-request-id"]]["status"] == 400  # refused before routing, still logged
    assert not [e for e in access if e["path"].startswith("/health")]
    assert len(access) == 3
    inside = [e for e in logged if e["event"] == "looking_at_thing"]
    assert inside and inside[0]["request_id"] == "trace-ok"
    assert 'lms_requests_in_progress{app_name="placement"} 0.0' in metrics  # every counted request ended
    counted = [line for line in metrics.splitlines() if line.startswith("lms_requests_total{")]
    assert any(
        'path="/v1/things/{thing_id}"' in line and 'status_code="200"' in line and 'app_name="placement"' in line
        for line in counted
    ), counted


async def test_what_start_up_made_is_frozen_while_serving(database_url: str) -> None:
    """The garbage collector does not walk the app's start-up objects while it serves (full
    collections stayed short) and waits longer between young collections; once the app has stopped,
    the objects are collectable again and the thresholds are as they were."""
    settings = get_settings(database_url=database_url, relay_enabled=False)
    app = build_app(settings, ServiceSpec("t", "t", [thing]))
    before = gc.get_threshold()
    async with client_for(app):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= 10_000
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
