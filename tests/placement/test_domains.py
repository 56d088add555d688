"""Content areas belong to the bank: admins define them, imports name them, versions keep them."""

from __future__ import annotations

from typing import Any

from tests.placement.conftest import Service, bank_rows, finish, learner, load_bank
from tests.support import Keys

SERVICE = "placement"


def renamed(rows: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{**r, "domain": names[r["domain"]], "code": "R-" + r["code"]} for r in rows]


async def test_a_bank_with_its_own_domains(svc: Service, keys: Keys) -> None:
    admin = keys.headers("admin", sub="admin-1")
    r = await svc.client.get("/v1/domains", headers=admin)
    assert r.status_code == 200 and next(d["code"] for d in r.json()) == "data-literacy"  # the built-in five
    names = {d: f"area-{k}" for k, d in enumerate(sorted({row["domain"] for row in bank_rows()}))}
    rows = renamed(bank_rows(), names)
    # unknown domains: every row is refused and the unknown codes are listed once
    r = await svc.client.post("/v1/items/import", json=rows, headers=admin)
    assert r.status_code == 422
    problem = r.json()
    assert problem["unknown_domains"] == sorted(names.values())
    assert all(e["field"] == "domain" for e in problem["errors"]) and len(problem["errors"]) == len(rows)
    assert "area-0" in problem["detail"]
    # define them (Korean and English names, target shares), then the same file imports
    shares = [0.4, 0.15, 0.15, 0.15, 0.15]
    for k, code in enumerate(sorted(names.values())):
        body = {"name": {"ko": f"영역 {k}", "en": f"Area {k}"}, "share": shares[k]}
        r = await svc.client.put(f"/v1/domains/{code}", json=body, headers=admin)
        assert r.status_code == 201 and r.headers["location"] == f"/v1/domains/{code}", r.text
        assert r.json()["name"] == {"ko": f"영역 {k}", "en": f"Area {k}"}
        again = await svc.client.put(f"/v1/domains/{code}", json=body, headers=admin)
        assert again.status_code == 200 and again.json() == r.json()
    assert (await svc.client.get("/v1/domains/area-0", headers=admin)).json()["share"] == 0.4
    bank = await load_bank(svc.client, keys, rows)
    version = (await svc.client.get("/v1/bank/versions", headers=admin)).json()["items"][0]
    assert version["domains"] == sorted(names.values())
    assert [d["share"] for d in version["domain_specs"]] == shares
    assert version["domain_specs"][0]["name"] == {"ko": "영역 0", "en": "Area 0"}
    # the engine follows the version's shares: a test runs and completes on it
    reply = await finish(svc.client, learner(keys, "dom-1"), bank)
    assert reply["status"] == "completed"
    # changing a definition later leaves the published version as it was
    body = {"name": {"ko": "영역 0", "en": "Area zero"}, "share": 0.2}
    assert (await svc.client.put("/v1/domains/area-0", json=body, headers=admin)).status_code == 200
    number = version["number"]
    kept = (await svc.client.get(f"/v1/bank/versions/{number}", headers=admin)).json()
    assert kept["domain_specs"][0]["name"]["en"] == "Area 0"


async def test_domain_input_is_checked(svc: Service, keys: Keys) -> None:
    admin = keys.headers("admin")
    learner_headers = learner(keys, "someone")
    good = {"name": {"ko": "영역", "en": "Area"}, "share": 0.2}
    assert (await svc.client.put("/v1/domains/ok-code", json=good, headers=learner_headers)).status_code == 403
    r = await svc.client.put("/v1/domains/Bad%20Code", json=good, headers=admin)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "code"
    for body in (
        {},
        {"name": {"ko": "영역"}, "share": 0.2},
        {"name": {"ko": "영역", "en": "Area", "fr": "Zone"}, "share": 0.2},
        {"name": {"ko": "영역", "en": "Area"}, "share": 1.5},
        {"name": {"ko": "", "en": "Area"}, "share": 0.2},
    ):
        r = await svc.client.put("/v1/domains/ok-code", json=body, headers=admin)
        assert r.status_code == 400, (body, r.text)
    assert (await svc.client.get("/v1/domains/ok-code", headers=admin)).status_code == 404
