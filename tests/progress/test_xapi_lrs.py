"""The xAPI LRS over real HTTP: every IFI, groups, sub-statements, formats, filters and paging,
voiding, authority and access, documents with ETags, activities and agents, attachments,
signatures, the alternate request syntax, strict parameters, versions and HTTP Basic."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from typing import Any
from urllib.parse import urlencode

import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.progress.domain.xapi import multipart
from services.progress.settings import get_settings
from tests.progress.conftest import Service
from tests.progress.xapi_helpers import x5c_certificate

SERVICE = "progress"
V1 = {"X-Experience-API-Version": "1.0.3"}
V2 = {"X-Experience-API-Version": "2.0.0"}
HOME = "https://lms.example.go.kr"
ADL = "http://adlnet.gov/expapi/verbs/"
EXPERIENCED = {"id": ADL + "experienced", "display": {"en-US": "experienced", "ko-KR": "경험함"}}


@pytest.fixture
def settings(database_url: str) -> Any:
    return get_settings(
        database_url=database_url, relay_enabled=False, xapi_basic_user="suite", xapi_basic_password="s3cret"
    )


def mbox(name: str) -> dict[str, Any]:
    return {"objectType": "Agent", "mbox": f"mailto:{name}@example.com"}


def official(name: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": HOME, "name": name}}


def activity(slug: str, **definition: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"objectType": "Activity", "id": f"http://example.com/{slug}"}
    if definition:
        out["definition"] = definition
    return out


def statement(actor: dict[str, Any] | None = None, obj: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return {"actor": actor or mbox("kim"), "verb": EXPERIENCED, "object": obj or activity("a"), **kw}


async def post(svc: Service, body: Any, headers: dict[str, str] | None = None, expect: int = 200) -> Any:
    r = await svc.client.post("/xapi/statements", json=body, headers=headers or {**svc.service, **V1})
    assert r.status_code == expect, r.text
    return r.json() if r.content else None


async def query(svc: Service, headers: dict[str, str] | None = None, **params: str) -> list[dict[str, Any]]:
    r = await svc.client.get("/xapi/statements", params=params, headers=headers or {**svc.service, **V1})
    assert r.status_code == 200, r.text
    return list(r.json()["statements"])


async def test_every_ifi_groups_substatements_and_formats(svc: Service) -> None:
    actors = [
        mbox("a"),
        {"mbox_sha1sum": hashlib.sha1(b"mailto:b@example.com").hexdigest()},
        {"openid": "http://openid.example.com/c"},
        {"account": {"homePage": "http://other.example.com", "name": "d"}},
        {"objectType": "Group", "name": "anonymous", "member": [mbox("e"), mbox("f")]},
        {"objectType": "Group", "mbox": "mailto:team@example.com", "member": [mbox("g")]},
    ]
    ids = await post(svc, [statement(a) for a in actors])
    assert len(ids) == 6
    for sid, actor in zip(ids, actors, strict=True):
        r = await svc.client.get(f"/xapi/statements?statementId={sid}", headers={**svc.service, **V1})
        assert r.status_code == 200 and r.json()["actor"] == {"objectType": "Agent", **actor} | actor
    # a group and an agent as objects; a sub-statement
    await post(svc, statement(obj={"objectType": "Group", "member": [mbox("h")]}))
    sub = {"objectType": "SubStatement", **statement(mbox("i"), activity("inner", name={"en-US": "Inner"}))}
    (sid,) = await post(svc, statement(obj=sub, context={"contextActivities": {"parent": activity("p")}}))
    got = (await svc.client.get(f"/xapi/statements?statementId={sid}", headers={**svc.service, **V1})).json()
    assert got["object"]["objectType"] == "SubStatement" and got["context"]["contextActivities"]["parent"][0]["id"]
    ids_format = (
        await svc.client.get(f"/xapi/statements?statementId={sid}&format=ids", headers={**svc.service, **V1})
    ).json()
    assert ids_format["verb"] == {"id": ADL + "experienced"} and ids_format["object"]["object"] == {
        "id": "http://example.com/inner"
    }
    canonical = await svc.client.get(
        f"/xapi/statements?statementId={sid}&format=canonical",
        headers={**svc.service, **V1, "Accept-Language": "ko-KR"},
    )
    assert canonical.json()["verb"]["display"] == {"ko-KR": "경험함"}
    # every broken rule is named at once, nothing stored
    broken = {"actor": {"mbox": "kim@example.com"}, "verb": {"id": "nope"}, "object": {"id": "x y"}}
    r = await svc.client.post("/xapi/statements", json=[statement(), broken], headers={**svc.service, **V1})
    assert r.status_code == 400 and len(r.json()["errors"]) == 3
    assert "mailto" in r.json()["detail"] and r.headers["x-experience-api-version"] == "1.0.3"


async def test_filters_paging_head_and_strict_parameters(svc: Service) -> None:
    reg = str(uuid.uuid4())
    kim, lee = mbox("kim"), mbox("lee")
    first = await post(
        svc,
        [
            statement(kim, activity("a1"), context={"registration": reg, "instructor": lee}),
            statement(lee, activity("a2"), context={"contextActivities": {"grouping": [activity("course")]}}),
            statement(kim, lee, verb={"id": ADL + "interacted"}),
        ],
    )
    agent = msgspec.json.encode(kim).decode()
    assert {s["id"] for s in await query(svc, agent=agent)} == {first[0], first[2]}
    lee_q = msgspec.json.encode(lee).decode()
    assert {s["id"] for s in await query(svc, agent=lee_q)} == {first[1], first[2]}  # actor or object
    related = await query(svc, agent=lee_q, related_agents="true")
    assert {s["id"] for s in related} == set(first)  # the instructor counts
    assert [s["id"] for s in await query(svc, verb=ADL + "interacted")] == [first[2]]
    assert [s["id"] for s in await query(svc, activity="http://example.com/a1")] == [first[0]]
    course = await query(svc, activity="http://example.com/course", related_activities="true")
    assert [s["id"] for s in course] == [first[1]]
    assert [s["id"] for s in await query(svc, registration=reg)] == [first[0]]
    # a statement targeting another (StatementRef) meets the filters its target meets
    (ref,) = await post(svc, statement(lee, {"objectType": "StatementRef", "id": first[0]}))
    assert {s["id"] for s in await query(svc, activity="http://example.com/a1")} == {first[0], ref}
    # paging with more, oldest first
    seen, page = (
        [],
        (await svc.client.get("/xapi/statements?limit=1&ascending=true", headers={**svc.service, **V1})).json(),
    )
    while True:
        seen += [s["id"] for s in page["statements"]]
        if not page["more"]:
            break
        page = (await svc.client.get(page["more"], headers={**svc.service, **V1})).json()
    assert seen == [*first, ref]
    # HEAD answers the headers only
    r = await svc.client.head("/xapi/statements", headers={**svc.service, **V2})
    assert r.status_code == 200 and r.content == b"" and r.headers["x-experience-api-version"] == "2.0.0"
    assert "x-experience-api-consistent-through" in r.headers
    # unknown and wrongly cased parameters, bad values: 400 in the version asked, consistent-through included
    for params in ({"Agent": agent}, {"verbs": "http://x"}, {"limit": "-1"}, {"format": "full"}, {"ascending": "yes"}):
        r = await svc.client.get("/xapi/statements", params=params, headers={**svc.service, **V2})
        assert r.status_code == 400, params
        assert r.headers["x-experience-api-version"] == "2.0.0" and "x-experience-api-consistent-through" in r.headers
    r = await svc.client.get(f"/xapi/statements?statementId={first[0]}&verb=http://x", headers={**svc.service, **V1})
    assert r.status_code == 400
    for version in ({}, {"X-Experience-API-Version": "0.9"}, {"X-Experience-API-Version": "1.1.0"}):
        r = await svc.client.get("/xapi/statements", headers={**svc.service, **version})
        assert r.status_code == 400 and r.headers["x-experience-api-version"]


async def test_voiding_authority_and_access(svc: Service) -> None:
    me = official("o1")
    learner = {**svc.learner("o1"), **V1}
    (service_sid,) = await post(svc, statement(me, verb={"id": ADL + "failed"}))
    (own_sid,) = await post(svc, statement(me), headers=learner)
    stored = (await svc.client.get(f"/xapi/statements?statementId={own_sid}", headers=learner)).json()
    assert stored["authority"] == {"objectType": "Agent", "account": {"homePage": HOME, "name": "o1"}}
    # a learner writes about themselves only, and voids only what they recorded
    await post(svc, statement(official("o2")), headers=learner, expect=403)
    void = {"actor": me, "verb": {"id": ADL + "voided"}, "object": {"objectType": "StatementRef", "id": service_sid}}
    await post(svc, void, headers=learner, expect=403)
    (void_sid,) = await post(svc, {**void, "object": {"objectType": "StatementRef", "id": own_sid}}, headers=learner)
    # voided: only by voidedStatementId; the voiding statement cannot be voided
    r = await svc.client.get(f"/xapi/statements?statementId={own_sid}", headers=learner)
    assert r.status_code == 404
    r = await svc.client.get(f"/xapi/statements?voidedStatementId={own_sid}", headers=learner)
    assert r.status_code == 200 and r.json()["id"] == own_sid
    assert own_sid not in {s["id"] for s in await query(svc)}
    await post(svc, {**void, "object": {"objectType": "StatementRef", "id": void_sid}}, expect=400)
    # learners read their own statements only; service and admin read all
    await post(svc, statement(official("o2")))
    assert {s["actor"].get("account", {}).get("name") for s in await query(svc, headers=learner)} == {"o1"}
    r = await svc.client.get(f"/xapi/statements?statementId={service_sid}", headers={**svc.learner("o2"), **V1})
    assert r.status_code == 404
    assert len(await query(svc, headers={**svc.admin, **V1})) == 3


async def test_documents_with_etags(svc: Service) -> None:
    h = {**svc.service, **V1}
    agent = msgspec.json.encode(mbox("kim")).decode()
    scope = {"activityId": "http://example.com/a", "agent": agent}
    url = "/xapi/activities/state?" + urlencode({**scope, "stateId": "bookmark"})
    assert (await svc.client.put(url, json={"page": 1}, headers=h)).status_code == 204
    r = await svc.client.get(url, headers=h)
    assert r.json() == {"page": 1} and r.headers["etag"].startswith('"')
    tag = r.headers["etag"]
    assert (await svc.client.post(url, json={"seen": True}, headers=h)).status_code == 204
    assert (await svc.client.get(url, headers=h)).json() == {"page": 1, "seen": True}
    assert (await svc.client.put(url, json={"page": 2}, headers={**h, "If-Match": tag})).status_code == 412
    assert (await svc.client.put(url, json={"page": 2}, headers={**h, "If-None-Match": "*"})).status_code == 412
    r = await svc.client.post(url, content=b"plain", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 400  # POST merges JSON objects only
    r = await svc.client.get("/xapi/activities/state?" + urlencode(scope), headers=h)
    assert r.json() == ["bookmark"]
    since = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    assert (
        await svc.client.get("/xapi/activities/state?" + urlencode({**scope, "since": since}), headers=h)
    ).json() == []
    assert (await svc.client.delete("/xapi/activities/state?" + urlencode(scope), headers=h)).status_code == 204
    assert (await svc.client.get(url, headers=h)).status_code == 404
    assert (await svc.client.get("/xapi/activities/state?activityId=http://x", headers=h)).status_code == 400
    # profiles: a PUT needs If-None-Match to create and If-Match to replace
    profile = "/xapi/agents/profile?" + urlencode({"agent": agent, "profileId": "prefs"})
    assert (await svc.client.put(profile, json={"a": 1}, headers=h)).status_code == 400
    assert (await svc.client.put(profile, json={"a": 1}, headers={**h, "If-None-Match": "*"})).status_code == 204
    assert (await svc.client.put(profile, json={"a": 2}, headers=h)).status_code == 409
    tag = (await svc.client.get(profile, headers=h)).headers["etag"]
    assert (await svc.client.put(profile, json={"a": 2}, headers={**h, "If-Match": tag})).status_code == 204
    r = await svc.client.delete(profile, headers={**h, "If-Match": tag})
    assert r.status_code == 412
    activity_profile = "/xapi/activities/profile?" + urlencode({"activityId": "http://example.com/a", "profileId": "p"})
    assert (
        await svc.client.put(activity_profile, content=b"x", headers={**h, "If-None-Match": "*"})
    ).status_code == 204
    r = await svc.client.get(activity_profile, headers=h)
    assert r.content == b"x" and r.headers["content-type"].startswith("application/octet-stream")
    # a learner's documents are their own
    mine = "/xapi/activities/state?" + urlencode(
        {"activityId": "http://example.com/a", "agent": msgspec.json.encode(official("o1")).decode(), "stateId": "s"}
    )
    learner = {**svc.learner("o1"), **V1}
    assert (await svc.client.put(mine, json={"x": 1}, headers=learner)).status_code == 204
    assert (await svc.client.get(url, headers=learner)).status_code == 403
    assert (await svc.client.put(activity_profile, content=b"y", headers=learner)).status_code == 403
    # 2.0: a State PUT without a precondition may not overwrite an existing document
    r = await svc.client.put(mine, json={"x": 2}, headers={**svc.learner("o1"), **V2})
    assert r.status_code == 409


async def test_activities_and_agents(svc: Service) -> None:
    h = {**svc.service, **V1}
    await post(svc, statement(obj=activity("c", name={"en-US": "Course"}, type="http://example.com/type")))
    await post(svc, statement(obj=activity("c", name={"ko-KR": "과정"})))
    r = await svc.client.get("/xapi/activities?activityId=http://example.com/c", headers=h)
    assert r.json()["definition"] == {"name": {"en-US": "Course", "ko-KR": "과정"}, "type": "http://example.com/type"}
    r = await svc.client.get("/xapi/agents", params={"agent": msgspec.json.encode(mbox("kim")).decode()}, headers=h)
    assert r.json() == {"objectType": "Person", "mbox": ["mailto:kim@example.com"]}
    assert (await svc.client.get("/xapi/agents", params={"agent": "{}"}, headers=h)).status_code == 400


def _multipart(statements: Any, parts: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), msgspec.json.encode(statements)]
    for content_type, content in parts:
        digest = hashlib.sha256(content).hexdigest()
        chunks.append(
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {digest}\r\n\r\n".encode()
        )
        chunks.append(content)
    chunks.append(f"\r\n--{boundary}--".encode())
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"


def _attachment(content: bytes, usage: str = "http://example.com/usage", content_type: str = "text/plain") -> Any:
    return {
        "usageType": usage,
        "display": {"en-US": "file"},
        "contentType": content_type,
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
    }


async def test_attachments_and_signatures(svc: Service) -> None:
    h = {**svc.service, **V1}
    content = "한국어 text\r\nwith lines".encode()
    s = statement(attachments=[_attachment(content)])
    body, content_type = _multipart(s, [("text/plain", content)])
    r = await svc.client.post("/xapi/statements", content=body, headers={**h, "Content-Type": content_type})
    assert r.status_code == 200, r.text
    sid = r.json()[0]
    r = await svc.client.get(f"/xapi/statements?statementId={sid}&attachments=true", headers=h)
    parts = multipart.parse(r.content, r.headers["content-type"])
    assert msgspec.json.decode(parts[0].content)["id"] == sid and parts[1].content == content
    # a missing part, a part nobody names, a wrong hash, JSON without the part
    broken = (
        _multipart(s, []),
        _multipart(statement(), [("text/plain", content)]),
        (body.replace("한국어".encode(), "영어".encode()), content_type),
    )
    for bad_body, bad_type in broken:
        r = await svc.client.post("/xapi/statements", content=bad_body, headers={**h, "Content-Type": bad_type})
        assert r.status_code == 400, r.text
    assert (await svc.client.post("/xapi/statements", json=s, headers=h)).status_code == 400
    # signed statements: an RS256 JWS over the statement, verified against its x5c certificate
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    x5c = [x5c_certificate(key)]
    signed = statement(id=str(uuid.uuid4()))
    jws = jwt.api_jws.encode(msgspec.json.encode(signed), key, algorithm="RS256", headers={"x5c": x5c}).encode()
    usage = "http://adlnet.gov/expapi/attachments/signature"
    with_sig = {**signed, "attachments": [_attachment(jws, usage, "application/octet-stream")]}
    body, content_type = _multipart(with_sig, [("application/octet-stream", jws)])
    r = await svc.client.post("/xapi/statements", content=body, headers={**h, "Content-Type": content_type})
    assert r.status_code == 200, r.text
    tampered = {**with_sig, "id": str(uuid.uuid4()), "verb": {"id": ADL + "passed"}}
    body, content_type = _multipart(tampered, [("application/octet-stream", jws)])
    r = await svc.client.post("/xapi/statements", content=body, headers={**h, "Content-Type": content_type})
    assert r.status_code == 400 and "payload" in r.json()["detail"]


async def test_alternate_syntax_and_basic_auth(svc: Service) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(b"suite:s3cret").decode()}
    r = await svc.client.get("/xapi/statements", headers={**basic, **V1})
    assert r.status_code == 200
    wrong = {"Authorization": "Basic " + base64.b64encode(b"suite:nope").decode()}
    r = await svc.client.get("/xapi/statements", headers={**wrong, **V1})
    assert r.status_code == 401 and r.headers["x-experience-api-version"] == "1.0.3"  # before any handler, too
    r = await svc.client.patch("/xapi/statements", headers={**basic, **V2})
    assert r.status_code == 405 and r.headers["x-experience-api-version"] == "2.0.0"
    assert (await svc.client.get("/v1/reviews", headers=basic)).status_code == 401  # xAPI paths only
    # 1.0.3 alternate syntax: headers, parameters and content in a form
    sid = str(uuid.uuid4())
    form = {
        "statementId": sid,
        "content": msgspec.json.encode(statement()).decode(),
        "Authorization": basic["Authorization"],
        "X-Experience-API-Version": "1.0.3",
    }
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await svc.client.post("/xapi/statements?method=PUT", content=urlencode(form), headers=form_type)
    assert r.status_code == 204, r.text
    r = await svc.client.post(
        "/xapi/statements?method=GET", content=urlencode({"statementId": sid}), headers={**form_type, **basic, **V1}
    )
    assert r.status_code == 200 and r.json()["id"] == sid
    r = await svc.client.post("/xapi/statements?method=GET&limit=1", content="", headers={**form_type, **basic, **V1})
    assert r.status_code == 400  # nothing but method in the URL
    r = await svc.client.post("/xapi/statements?method=GET", content="", headers={**form_type, **basic, **V2})
    assert r.status_code == 400 and r.headers["x-experience-api-version"] == "2.0.0"  # not in 2.0


async def test_basic_auth_is_off_by_default(database_url: str, keys: Any) -> None:
    from services.progress.app import create_app
    from tests.support import client_for

    async with client_for(create_app(get_settings(database_url=database_url, relay_enabled=False))) as client:
        basic = {"Authorization": "Basic " + base64.b64encode(b"suite:s3cret").decode()}
        assert (await client.get("/xapi/statements", headers={**basic, **V1})).status_code == 401


async def test_bad_bodies_and_racing_replays(svc: Service) -> None:
    h = {**svc.service, **V1}
    for body in (b"", b"[]", b"{", b'"text"', b"[1, 2]"):
        r = await svc.client.post("/xapi/statements", content=body, headers={**h, "Content-Type": "application/json"})
        assert r.status_code == 400, body
    r = await svc.client.post("/xapi/statements", content=b"<a/>", headers={**h, "Content-Type": "text/xml"})
    assert r.status_code == 400
    odd = statement(result={"response": "\u202e ☃ 𝕏 é", "extensions": {"http://e.com/deep": [[[[{"a": [1]}]]]]}})
    (sid,) = await post(svc, odd)
    r = await svc.client.post("/xapi/statements", json=statement(result={"response": "a\u0000b"}), headers=h)
    assert r.status_code == 400 and "U+0000" in r.json()["detail"]
    got = (await svc.client.get(f"/xapi/statements?statementId={sid}", headers=h)).json()
    assert got["result"] == odd["result"]
    # two requests with one id and different content at once: one is stored, the other is a 409
    import asyncio

    same = str(uuid.uuid4())
    first, second = await asyncio.gather(
        svc.client.post("/xapi/statements", json=statement(id=same), headers=h),
        svc.client.post("/xapi/statements", json=statement(mbox("other"), id=same), headers=h),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
