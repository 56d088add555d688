"""Admins find certificates by serial, official id or part of the holder's name, newest first, in pages."""

from __future__ import annotations

from tests.certification.conftest import Service

SERVICE = "certification"


async def test_search_by_name_id_and_serial_in_pages(svc: Service) -> None:
    admin = svc.h("admin", sub="admin-search")
    issued = [(await svc.issue(f"srch-{i}", level=i % 5, name=f"박서준 {i}")).json() for i in range(5)]
    other = (await svc.issue("srch-x", level=1, name="Lee 50%_off")).json()

    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "서준", "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await svc.client.get("/v1/admin/certificates", params=params, headers=admin)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 2
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [c["id"] for c in reversed(issued)]  # all five, newest first, no repeats

    by_id = await svc.client.get("/v1/admin/certificates", params={"q": "srch-3"}, headers=admin)
    assert [c["official_id"] for c in by_id.json()["items"]] == ["srch-3"]
    by_serial = await svc.client.get("/v1/admin/certificates", params={"q": other["serial"]}, headers=admin)
    assert [c["id"] for c in by_serial.json()["items"]] == [other["id"]]
    # LIKE wildcards in the query are literal text, not patterns
    literal = await svc.client.get("/v1/admin/certificates", params={"q": "50%_"}, headers=admin)
    assert [c["id"] for c in literal.json()["items"]] == [other["id"]]
    wildcard = await svc.client.get("/v1/admin/certificates", params={"q": "%"}, headers=admin)
    assert [c["id"] for c in wildcard.json()["items"]] == [other["id"]]


async def test_search_input_and_roles(svc: Service) -> None:
    admin = svc.h("admin", sub="admin-search")
    for params in ({}, {"q": ""}, {"q": "x" * 201}, {"q": "a", "limit": 0}, {"q": "a", "limit": 101}):
        r = await svc.client.get("/v1/admin/certificates", params=params, headers=admin)
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), params
    r = await svc.client.get("/v1/admin/certificates", params={"q": "a", "cursor": "bm90LWEta2V5"}, headers=admin)
    assert r.status_code == 400 and r.json()["type"] == "urn:lms:problem:invalid-cursor"
    for role in ("learner", "hr", "instructor"):
        r = await svc.client.get("/v1/admin/certificates", params={"q": "a"}, headers=svc.h(role))
        assert r.status_code == 403, role
    empty = await svc.client.get("/v1/admin/certificates", params={"q": "nobody-here"}, headers=admin)
    assert empty.json() == {"items": [], "next_cursor": None}
