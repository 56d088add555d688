"""The progress app as a whole: health, docs, and role declarations on every route."""

from __future__ import annotations

from tests.progress.conftest import Service

SERVICE = "progress"


async def test_health_docs_and_roles(svc: Service) -> None:
    assert (await svc.client.get("/health/ready")).json() == {"status": "ready"}
    schema = (await svc.client.get("/docs/openapi.json")).json()
    for path in (
        "/v1/placements/{result_id}",
        "/v1/sessions/{session_id}/enrolments",
        "/v1/events",
        "/xapi/statements",
        "/v1/me/path",
        "/v1/reports/completion",
    ):
        assert path in schema["paths"], path
    # no token: 401 everywhere but the public xAPI about
    assert (await svc.client.get("/v1/me/path")).status_code == 401
    assert (await svc.client.post("/v1/events", json={"events": []})).status_code == 401
    assert (await svc.client.get("/xapi/about")).status_code == 200
    # an empty batch is a validation problem, not a 500
    r = await svc.client.post("/v1/events", json={"events": []}, headers=svc.service)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
