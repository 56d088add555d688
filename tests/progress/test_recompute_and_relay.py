"""Recomputation after a republish or a voided event flags instead of revoking; the outbox relay
delivers certificate requests to a real certification stand-in and records the serial."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from typing import Any

import pytest
from litestar import Litestar, Request, put
from litestar.exceptions import HTTPException

from services.progress.app import create_app
from services.progress.seed import programme
from services.progress.settings import get_settings
from tests.progress.conftest import Service, event, outbox_rows, sql
from tests.progress.test_events import complete_level_zero
from tests.support import Keys, free_port, serve, service_client

SERVICE = "progress"


async def test_republish_flags_completed_levels_and_completes_newly_met(svc: Service, database_url: str) -> None:
    await svc.publish()
    await complete_level_zero(svc, "rc")
    # rc2 has everything for level 0 but the quiz
    await svc.place("rc2", 0)
    await svc.client.post(
        "/v1/officials/rc2/waivers", json={"level": 0, "target": "attendance", "reason": "remote"}, headers=svc.admin
    )
    await svc.events([event("z1", "rc2", "L0-M1", "completed"), event("z2", "rc2", "L0-M2", "completed")])
    assert len(await outbox_rows(database_url)) == 1
    doc = copy.deepcopy(programme("2026.2"))
    l0 = doc["levels"][0]["courses"][0]["modules"]
    l0.append({"code": "L0-NEW", "title_ko": "새 모듈", "title_en": "New module", "rule": "completed"})
    next(m for m in l0 if m["code"] == "L0-Q")["required"] = False
    out = await svc.publish(doc)
    job = out["recompute_job"]
    assert job["status"] == "pending"

    async def finished() -> dict | None:
        r = await svc.client.get(f"/v1/recompute-jobs/{job['id']}", headers=svc.admin)
        return r.json() if r.json()["status"] == "done" else None

    done = await wait_for(finished)
    assert (done["officials"], done["levels_completed"], done["flagged"]) == (2, 0, 1)
    # rc's level 0 no longer meets the rules: flagged for an admin, still completed, no new message
    completion = await sql(
        database_url, "SELECT needs_review, review_reason FROM level_completion WHERE official_id = 'rc'"
    )
    assert completion[0]["needs_review"] is True and "L0-NEW" in completion[0]["review_reason"]
    path = (await svc.client.get("/v1/me/path", headers=svc.learner("rc"))).json()
    assert path["levels"][0]["status"] == "completed" and path["levels"][0]["needs_review"] is True
    reviews = (await svc.client.get("/v1/reviews?limit=1", headers=svc.admin)).json()
    assert [r["official_id"] for r in reviews["items"]] == ["rc"] and reviews["next_cursor"] is None
    r = await svc.client.post("/v1/officials/rc/levels/0/review", headers=svc.admin)
    assert r.status_code == 200
    assert (await svc.client.get("/v1/reviews", headers=svc.admin)).json() == {"items": [], "next_cursor": None}
    # rc2 completes once L0-NEW is done (the quiz is optional now)
    r = await svc.events([event("z3", "rc2", "L0-NEW", "completed")])
    assert [d["level"] for d in r.json()["completed_levels"]] == [0]
    messages = await outbox_rows(database_url)
    assert len(messages) == 2 and json.loads(messages[1]["body"])["curriculum_version"] == "2026.2"
    # published versions are immutable; a draft can change
    versions = (await svc.client.get("/v1/curricula", headers=svc.admin)).json()
    assert [v["status"] for v in versions] == ["published", "retired"]
    r = await svc.client.put(f"/v1/curricula/{versions[0]['id']}", json=doc, headers=svc.admin)
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:curriculum-immutable"


async def test_voiding_an_event_flags_instead_of_revoking(svc: Service, database_url: str) -> None:
    await svc.publish()
    await complete_level_zero(svc, "vv", prefix="vv")
    r = await svc.client.post("/v1/events/vv3/void", headers=svc.admin)
    assert r.status_code == 200 and r.json()["flagged"] == 1
    rows = await sql(database_url, "SELECT needs_review FROM level_completion WHERE official_id = 'vv'")
    assert rows == [{"needs_review": True}]
    progress = await sql(database_url, "SELECT best_score FROM module_progress WHERE module_code = 'L0-Q'")
    assert progress == []  # rebuilt from the remaining events
    assert len(await outbox_rows(database_url)) == 1
    assert (await svc.client.post("/v1/events/nope/void", headers=svc.admin)).status_code == 404
    # a second flagged official: the review list pages with a cursor
    await complete_level_zero(svc, "vw", prefix="vw")
    assert (await svc.client.post("/v1/events/vw3/void", headers=svc.admin)).json()["flagged"] == 1
    first = (await svc.client.get("/v1/reviews?limit=1", headers=svc.admin)).json()
    second = (await svc.client.get(f"/v1/reviews?limit=1&cursor={first['next_cursor']}", headers=svc.admin)).json()
    assert [r["official_id"] for r in first["items"] + second["items"]] == ["vv", "vw"]
    assert second["next_cursor"] is None


async def test_invalid_curriculum_lists_every_problem(svc: Service) -> None:
    doc = copy.deepcopy(programme("bad"))
    doc["levels"][1]["courses"][0]["modules"][0]["code"] = "L0-M1"  # duplicate code
    doc["levels"][0]["courses"][0]["modules"][0]["prerequisites"] = ["L4-M1"]  # higher level
    r = await svc.client.post("/v1/curricula", json=doc, headers=svc.admin)
    assert r.status_code == 422
    messages = [e["message"] for e in r.json()["errors"]]
    assert any("used twice" in m for m in messages)
    doc = copy.deepcopy(programme("bad2"))
    doc["levels"][0]["courses"][0]["modules"][0]["prerequisites"] = ["L4-M1"]
    r = await svc.client.post("/v1/curricula", json=doc, headers=svc.admin)
    assert r.status_code == 422 and "higher level" in r.json()["errors"][0]["message"]
    assert (await svc.client.post("/v1/curricula", json=programme("ok"), headers=svc.learner("x"))).status_code == 403


class Certification:
    """A stand-in for the certification service: PUT certificate, 201 then 200, or a set status."""

    def __init__(self, keys: Keys) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = 201
        self.issued: dict[str, dict[str, str]] = {}

        @put("/v1/officials/{official:str}/levels/{level:int}/certificate", opt={"public": True})
        async def certificate(official: str, level: int, request: Request[Any, Any, Any]) -> Any:
            self.calls.append(
                {
                    "path": request.url.path,
                    "body": await request.json(),
                    "auth": request.headers.get("authorization", ""),
                }
            )
            if self.status >= 400:
                raise HTTPException(status_code=self.status, detail="told to fail")
            key = f"{official}/{level}"
            if key not in self.issued:
                self.issued[key] = {"id": str(uuid.uuid4()), "serial": f"LMS-2026-{len(self.issued) + 1:06d}-3"}
            from litestar import Response

            return Response(self.issued[key], status_code=201 if len(self.calls) == 1 else 200)

        self.app = Litestar([certificate])


async def wait_for(check: Any, seconds: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("status", [201, 409])
async def test_relay_delivers_and_records_serial(
    database_url: str, keys: Keys, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = Certification(keys)
    cert.status = status
    port = free_port()
    monkeypatch.setenv("LMS_CERTIFICATION_URL", f"http://127.0.0.1:{port}")
    settings = get_settings(database_url=database_url, relay_enabled=True, relay_poll_seconds=0.05)
    async with serve(cert.app, port), service_client(create_app(settings), keys, Service, database_url) as svc:
        await svc.publish()
        await complete_level_zero(svc, "rl")
        if status == 201:
            rows = await wait_for(
                lambda: sql(
                    database_url,
                    "SELECT certificate_serial, certificate_id FROM level_completion "
                    "WHERE certificate_serial IS NOT NULL",
                )
            )
            assert rows[0]["certificate_serial"] == cert.issued["rl/0"]["serial"]
            assert str(rows[0]["certificate_id"]) == cert.issued["rl/0"]["id"]
            assert cert.calls[0]["path"] == "/v1/officials/rl/levels/0/certificate"
            assert cert.calls[0]["auth"].startswith("Bearer ")
            path = (await svc.client.get("/v1/me/path", headers=svc.learner("rl"))).json()
            assert path["certificates"][0]["serial"] == cert.issued["rl/0"]["serial"]
            delivered = await sql(database_url, "SELECT delivered_at FROM outbox")
            assert delivered[0]["delivered_at"] is not None
        else:
            dead = await wait_for(
                lambda: sql(database_url, "SELECT dead_at, last_error FROM outbox WHERE dead_at IS NOT NULL")
            )
            assert "409" in dead[0]["last_error"]
            assert (await sql(database_url, "SELECT certificate_serial FROM level_completion"))[0][
                "certificate_serial"
            ] is None


async def test_recompute_jobs_run_in_chunks_on_any_replica(database_url: str, keys: Keys) -> None:
    """Jobs written while no worker runs are picked up by another replica; a job whose version
    was superseded by a newer publication stops, the newer one covers everyone in chunks."""
    idle = get_settings(database_url=database_url, relay_enabled=False, recompute_worker=False)
    async with service_client(create_app(idle), keys, Service, database_url) as svc:
        await svc.publish()
        for i in range(5):
            await svc.place(f"ch{i}", 0)
        first = (await svc.publish(programme("2026.2")))["recompute_job"]
        second = (await svc.publish(programme("2026.3")))["recompute_job"]
        await asyncio.sleep(0.2)
        r = await svc.client.get(f"/v1/recompute-jobs/{first['id']}", headers=svc.admin)
        assert r.json()["status"] == "pending"
    worker = get_settings(database_url=database_url, relay_enabled=False, recompute_chunk=2, recompute_poll_seconds=0.1)
    async with service_client(create_app(worker), keys, Service, database_url) as svc:

        async def job(job_id: str) -> dict | None:
            body = (await svc.client.get(f"/v1/recompute-jobs/{job_id}", headers=svc.admin)).json()
            return body if body["status"] == "done" else None

        a = await wait_for(lambda: job(first["id"]))
        b = await wait_for(lambda: job(second["id"]))
        assert a["note"].startswith("superseded") and a["officials"] == 0
        assert b["officials"] == 5 and b["note"] is None
        assert (await svc.client.get(f"/v1/recompute-jobs/{uuid.uuid4()}", headers=svc.admin)).status_code == 404


async def test_republish_completes_levels_that_now_meet_the_rules(svc: Service, database_url: str) -> None:
    await svc.publish()
    await svc.place("rc3", 0)
    await svc.client.post(
        "/v1/officials/rc3/waivers", json={"level": 0, "target": "attendance", "reason": "remote"}, headers=svc.admin
    )
    r = await svc.events(
        [
            event("y1", "rc3", "L0-M1", "completed"),
            event("y2", "rc3", "L0-M2", "completed"),
            event("y3", "rc3", "L0-Q", "passed", score=55),  # below the 60 of version 2026.1
        ]
    )
    assert r.json()["completed_levels"] == []
    doc = copy.deepcopy(programme("2026.2"))
    next(m for m in doc["levels"][0]["courses"][0]["modules"] if m["code"] == "L0-Q")["min_score"] = 50
    job = (await svc.publish(doc))["recompute_job"]

    async def finished() -> dict | None:
        body = (await svc.client.get(f"/v1/recompute-jobs/{job['id']}", headers=svc.admin)).json()
        return body if body["status"] == "done" else None

    done = await wait_for(finished)
    assert (done["levels_completed"], done["flagged"]) == (1, 0)
    messages = await outbox_rows(database_url)
    assert [m["path"] for m in messages] == ["/v1/officials/rc3/levels/0/certificate"]
    assert json.loads(messages[0]["body"])["curriculum_version"] == "2026.2"
    path = (await svc.client.get("/v1/me/path", headers=svc.learner("rc3"))).json()
    assert path["current_level"] == 1 and path["levels"][0]["status"] == "completed"
