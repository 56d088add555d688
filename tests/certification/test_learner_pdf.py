"""Learners see only their own certificates; PDFs are byte-identical and carry the VC-JWT."""

from __future__ import annotations

from tests.certification.conftest import Service
from tests.certification.test_pdf import attachments

SERVICE = "certification"


async def test_learners_see_only_their_own(svc: Service) -> None:
    mine = (await svc.issue("learner-1", level=0)).json()
    mine2 = (await svc.issue("learner-1", level=1)).json()
    theirs = (await svc.issue("learner-2", level=0)).json()
    me = svc.h("learner", sub="learner-1")
    listed = (await svc.client.get("/v1/me/certificates", headers=me)).json()
    assert {c["id"] for c in listed} == {mine["id"], mine2["id"]}
    assert (await svc.client.get(f"/v1/me/certificates/{mine['id']}", headers=me)).json()["serial"] == mine["serial"]
    for path in (
        f"/v1/me/certificates/{theirs['id']}",
        f"/v1/me/certificates/{theirs['id']}/pdf",
        "/v1/me/certificates/not-a-uuid",
    ):
        r = await svc.client.get(path, headers=me)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    for path in (f"/v1/certificates/{theirs['id']}", f"/v1/certificates/{theirs['id']}/pdf"):
        assert (await svc.client.get(path, headers=me)).status_code == 403
    assert (await svc.client.get("/v1/me/certificates", headers=svc.h("learner", sub="nobody"))).json() == []


async def test_pdf_is_byte_identical_and_embeds_the_credential(svc: Service) -> None:
    cert = (await svc.issue("learner-pdf", level=3, name="홍길동")).json()
    me = svc.h("learner", sub="learner-pdf")
    first = await svc.client.get(f"/v1/me/certificates/{cert['id']}/pdf", headers=me)
    second = await svc.client.get(f"/v1/me/certificates/{cert['id']}/pdf", headers=me)
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    assert cert["serial"] in first.headers["content-disposition"]
    assert first.content.startswith(b"%PDF-") and first.content == second.content
    assert attachments(first.content)["credential.jwt"] == cert["credential"].encode()
    by_admin = await svc.client.get(f"/v1/certificates/{cert['id']}/pdf", headers=svc.h("admin"))
    assert by_admin.content == first.content
    other = (await svc.issue("learner-pdf", level=4, name="홍길동")).json()
    assert (await svc.client.get(f"/v1/me/certificates/{other['id']}/pdf", headers=me)).content != first.content


async def test_health_and_openapi_list_every_route(svc: Service) -> None:
    assert (await svc.client.get("/health/ready")).json() == {"status": "ready"}
    schema = await svc.client.get("/docs/openapi.json")
    assert schema.status_code == 200, schema.text[:500]
    paths = schema.json()["paths"]
    for path in (
        "/v1/officials/{official_id}/levels/{level}/certificate",
        "/v1/certificates",
        "/v1/certificates/export.csv",
        "/v1/verify/{serial}",
        "/.well-known/jwks.json",
        "/v1/status-lists/{list_no}/{purpose}",
        "/v1/webhooks/subscriptions",
    ):
        assert path in paths, path
