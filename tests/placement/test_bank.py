"""Item bank over HTTP: import validation (every bad row, all-or-nothing), CSV, export round
trip, item CRUD, publishing versions."""

from __future__ import annotations

import csv
import io
import json

from tests.placement.conftest import Service, bank_rows
from tests.support import Keys

SERVICE = "placement"


def good(code: str = "G-1", **overrides) -> dict:
    row = {
        "code": code,
        "domain": "data-analysis",
        "a": 1.2,
        "b": 0.3,
        "c": 0.1,
        "stem": {"ko": "질문", "en": "Question"},
        "options": ["one", "two", {"ko": "셋", "en": "three"}],
        "answer": 2,
    }
    row.update(overrides)
    return row


async def test_import_reports_every_bad_row_and_writes_nothing(svc: Service, keys: Keys) -> None:
    admin = keys.headers("admin")
    rows = [
        good("OK-1"),
        good("BAD-A", a=float("nan")),
        good("BAD-A0", a=0),
        good("BAD-C", c=0.5),
        good("OK-1"),  # duplicate code
        good("BAD-ANS", answer=3),
        good("BAD-DOM", domain="astrology"),
        good("BAD-OPT", options=["only one"]),
        {k: v for k, v in good("BAD-MISSING").items() if k != "b"},
        good("BAD-STATUS", status="draft"),
        good("BAD-STEM", stem={"fr": "Question"}),
        good("BAD-NO-OPTIONS", options=[], answer=0),
    ]
    body = json.dumps(rows).replace("NaN", "NaN")  # JSON with a NaN literal, as spreadsheets export it
    r = await svc.client.post("/v1/items/import", content=body, headers={**admin, "content-type": "application/json"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "urn:lms:problem:invalid-import" and "nothing was written" in problem["detail"]
    found = {(e["row"], e["field"]) for e in problem["errors"]}
    assert {(2, "a"), (3, "a"), (4, "c"), (5, "code"), (6, "answer"), (7, "domain"), (8, "options"), (9, "b")} <= found
    assert {(10, "status"), (11, "stem"), (12, "options")} <= found
    # the answer is checked against the options it names (not when the options themselves are refused)
    assert (12, "answer") not in found
    answer = next(e for e in problem["errors"] if e["row"] == 6)
    assert answer["reason"] == "the correct answer is option 3, but the item's options are numbered 0 to 2"
    assert all(e["reason"] for e in problem["errors"])
    assert (1, "code") not in found
    dup = next(e for e in problem["errors"] if e["row"] == 5)
    assert "first on row 1" in dup["reason"]
    assert (await svc.client.get("/v1/items", headers=admin)).json()["items"] == []


async def test_import_rejects_non_list_and_bad_json(svc: Service, keys: Keys) -> None:
    admin = {**keys.headers("admin"), "content-type": "application/json"}
    r = await svc.client.post("/v1/items/import", content=b"{nope", headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = await svc.client.post("/v1/items/import", content=b'{"a": 1}', headers=admin)
    assert r.status_code == 422
    r = await svc.client.post("/v1/items/import", content=b"[]", headers=admin)
    assert r.status_code == 422


async def test_csv_import_export_round_trip(svc: Service, keys: Keys) -> None:
    admin = keys.headers("admin")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code", "domain", "a", "b", "c", "stem", "options", "answer", "status"])
    writer.writerow(["CSV-1", "data-literacy", "1.1", "-0.5", "", "Plain stem", '["yes", "no"]', "0", ""])
    writer.writerow(
        [
            "CSV-2",
            "modelling-ai",
            "0.9",
            "1.0",
            "0.2",
            '{"ko": "한국어", "en": "English"}',
            '["a","b","c"]',
            "1",
            "pretest",
        ]
    )
    r = await svc.client.post(
        "/v1/items/import", content=buffer.getvalue().encode(), headers={**admin, "content-type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "updated": 0, "unchanged": 0, "total": 2}
    bad = 'code,domain,a,b,stem,options,answer\nX,data-literacy,-1,0,s,"[""a"",""b""]",7\n'
    r = await svc.client.post("/v1/items/import", content=bad.encode(), headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 422
    assert {(e["row"], e["field"]) for e in r.json()["errors"]} == {(1, "a"), (1, "answer")}
    # export in both formats, re-import: nothing changes
    exported = await svc.client.get("/v1/items/export.csv", headers=admin)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    r = await svc.client.post(
        "/v1/items/import", content=exported.content, headers={**admin, "content-type": "text/csv"}
    )
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 2, "total": 2}
    exported = await svc.client.get("/v1/items/export", headers=admin)
    data = exported.json()
    assert [d["code"] for d in data] == ["CSV-1", "CSV-2"] and data[1]["stem"] == {"ko": "한국어", "en": "English"}
    assert data[0]["c"] == 0.0 and data[1]["status"] == "pretest"
    r = await svc.client.post("/v1/items/import", json=data, headers=admin)
    assert r.json()["unchanged"] == 2
    assert (await svc.client.get("/v1/items/export", headers=keys.headers("learner"))).status_code == 403


async def test_item_crud_and_versions(svc: Service, keys: Keys) -> None:
    admin = keys.headers("admin", sub="admin-7")
    r = await svc.client.post("/v1/items", json=good("C-1"), headers=admin)
    assert r.status_code == 201 and r.json()["answer"] == 2
    item = r.json()
    assert (await svc.client.post("/v1/items", json=good("C-1"), headers=admin)).status_code == 200  # same: idempotent
    r = await svc.client.post("/v1/items", json=good("C-1", b=2.0), headers=admin)
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:duplicate-code"
    r = await svc.client.post("/v1/items", json=good("C-2", c=0.7), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "c"
    r = await svc.client.post("/v1/items", json={**good("C-3"), "surprise": 1}, headers=admin)
    assert r.status_code == 400
    r = await svc.client.patch(f"/v1/items/{item['id']}", json={"answer": 5}, headers=admin)
    assert r.status_code == 422 and "numbered 0 to 2" in r.json()["detail"]
    r = await svc.client.patch(f"/v1/items/{item['id']}", json={"b": -1.0}, headers=admin)
    assert r.status_code == 200 and r.json()["b"] == -1.0
    # publishing: a version; same content again answers the same version
    v1 = await svc.client.post("/v1/bank/versions", json={"note": "first"}, headers=admin)
    assert v1.status_code == 201 and v1.json()["item_count"] == 1 and v1.json()["active"] is True
    assert v1.json()["calibrated"] is False and v1.json()["published_by"] == "admin-7"
    again = await svc.client.post("/v1/bank/versions", headers=admin)
    assert again.status_code == 200 and again.json()["id"] == v1.json()["id"]
    await svc.client.post("/v1/items", json=good("C-4"), headers=admin)
    r = await svc.client.delete(f"/v1/items/{item['id']}", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "retired"
    v2 = await svc.client.post("/v1/bank/versions", headers=admin)
    assert v2.status_code == 201 and v2.json()["item_count"] == 1 and v2.json()["number"] == 2
    listed = (await svc.client.get("/v1/bank/versions", params={"limit": 1}, headers=admin)).json()
    assert [v["number"] for v in listed["items"]] == [2] and listed["next_cursor"]
    rest = (await svc.client.get("/v1/bank/versions", params={"cursor": listed["next_cursor"]}, headers=admin)).json()
    assert [v["number"] for v in rest["items"]] == [1] and rest["items"][0]["active"] is False
    assert (await svc.client.get("/v1/bank/versions/1", headers=admin)).json()["note"] == "first"
    assert (await svc.client.get("/v1/bank/versions/99", headers=admin)).status_code == 404
    bad = await svc.client.get("/v1/items", params={"cursor": "!!!"}, headers=admin)
    assert bad.status_code == 400


async def test_item_list_pages_and_filters(svc: Service, keys: Keys) -> None:
    admin = keys.headers("admin")
    rows = bank_rows(per_domain=3, pretest=1)
    assert (await svc.client.post("/v1/items/import", json=rows, headers=admin)).status_code == 200
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = (await svc.client.get("/v1/items", params=params, headers=admin)).json()
        seen += [i["code"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 20
    only = (await svc.client.get("/v1/items", params={"domain": "data-literacy"}, headers=admin)).json()["items"]
    assert {i["domain"] for i in only} == {"data-literacy"} and len(only) == 4
    pretest = (await svc.client.get("/v1/items", params={"status": "pretest"}, headers=admin)).json()["items"]
    assert len(pretest) == 5 and {i["status"] for i in pretest} == {"pretest"}


async def test_publish_empty_bank_is_409(svc: Service, keys: Keys) -> None:
    r = await svc.client.post("/v1/bank/versions", headers=keys.headers("admin"))
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:empty-bank"
