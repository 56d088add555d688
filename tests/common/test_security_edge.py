"""The edge of every service, over real HTTP: header and JSON limits, text checks, forwarded
addresses, throttled token guessing, security headers, private metrics, client-closed requests."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
import structlog
from litestar import MediaType, get, post
from litestar.params import JSONBody

from services.common.app import ServiceSpec, build_app
from services.common.edge import EdgeError, check_json, forwarded_client, parse_networks
from services.common.text import neutralise_bidi
from services.placement.settings import get_settings
from tests.support import Keys, client_for, serve

SERVICE = "placement"


class Note(msgspec.Struct):
    text: str
    extra: Any = None


@post("/v1/notes", opt={"public": True}, status_code=200)
async def echo(data: JSONBody[Note]) -> Note:
    return data


@get("/v1/search", opt={"public": True})
async def search(q: str = "") -> dict[str, str]:
    return {"q": q}


@get("/page", opt={"public": True}, media_type=MediaType.HTML)
async def page() -> str:
    return "<!doctype html><title>x</title><p>hello</p>"


@post("/v1/slow", opt={"public": True}, status_code=200)
async def slow(data: JSONBody[Note]) -> Note:
    return data


def make(database_url: str, **overrides: Any) -> Any:
    settings = get_settings(database_url=database_url, relay_enabled=False, **overrides)
    return build_app(settings, ServiceSpec("t", "t", [echo, search, page, slow]))


@pytest.fixture
async def client(database_url: str):
    async with client_for(make(database_url)) as c:
        yield c


def problem(r: Any, status: int, slug: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == f"urn:lms:problem:{slug}", r.json()


async def test_oversized_headers_get_431(client, keys: Keys) -> None:
    token = keys.token("admin") + "x" * 1_000_000  # a megabyte "token"
    problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 431, "headers-too-large")
    problem(await client.get("/v1/search", headers={"X-Padding": "y" * 20_000}), 431, "headers-too-large")
    assert (await client.get("/v1/whoami", headers=keys.headers("admin"))).status_code == 200


async def test_deep_json_is_refused_before_parsing(client) -> None:
    deep = '{"text": "a", "extra": ' + "[" * 20_000 + "]" * 20_000 + "}"
    problem(await client.post("/v1/notes", content=deep, headers={"content-type": "application/json"}), 400, "too-deep")
    ok = '{"text": "a", "extra": ' + "[" * 10 + "]" * 10 + "}"
    assert (await client.post("/v1/notes", content=ok, headers={"content-type": "application/json"})).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [r'{"text": "a\u0000b"}', r'{"text": "\ud800"}', r'{"text": "\udc00x"}', r'{"text": "\ud800\u0041"}'],
)
async def test_nul_and_lone_surrogates_in_json_are_400(client, raw: str) -> None:
    r = await client.post("/v1/notes", content=raw, headers={"content-type": "application/json"})
    problem(r, 400, "invalid-text")


async def test_proper_text_passes(client) -> None:
    for raw, text in [(r'{"text": "\ud83d\ude00 \\u0000"}', "\U0001f600 \\u0000"), ('{"text": "김민수"}', "김민수")]:
        r = await client.post("/v1/notes", content=raw.encode(), headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.json()["text"] == text, r.text


async def test_nul_and_bad_utf8_in_query_and_path_are_400(client) -> None:
    problem(await client.get("/v1/search?q=%00"), 400, "invalid-text")
    problem(await client.get("/v1/search?q=%ED%A0%80"), 400, "invalid-text")
    problem(await client.get("/v1/search?q=%FF"), 400, "invalid-text")
    problem(await client.get("/v1/things/%00"), 400, "invalid-text")
    assert (await client.get("/v1/search?q=%EA%B9%80")).json() == {"q": "김"}


def test_json_scanner_units() -> None:
    check_json(b'{"a": "[[[[[[["}', 2)  # brackets inside strings do not count
    check_json(rb'{"a": "\\ud800"}', 5)  # an escaped backslash: literal text
    with pytest.raises(EdgeError):
        check_json(b"[[[]]]", 2)


def test_forwarded_addresses_are_believed_only_from_trusted_proxies() -> None:
    proxies = parse_networks(["10.0.0.0/8"])
    assert forwarded_client("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    assert forwarded_client("10.0.0.5", "1.2.3.4", proxies) == "1.2.3.4"
    assert forwarded_client("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.7", proxies) == "1.2.3.4"
    assert forwarded_client("10.0.0.5", "junk", proxies) == "10.0.0.5"


async def test_a_spoofed_forwarded_for_does_not_reset_the_rate_limit(database_url: str) -> None:
    async with client_for(make(database_url, public_rate_limit=5)) as client:
        codes = [
            (await client.get("/v1/search", headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
            for i in range(8)
        ]
    assert codes == [200] * 5 + [429] * 3


async def test_a_trusted_proxy_names_the_client(database_url: str) -> None:
    async with client_for(make(database_url, public_rate_limit=3, trusted_proxies=("127.0.0.1",))) as client:
        codes = [
            (await client.get("/v1/search", headers={"X-Forwarded-For": f"198.51.100.{i % 2}"})).status_code
            for i in range(8)
        ]
    assert codes == [200] * 6 + [429] * 2  # two clients behind the proxy, three each


async def test_repeated_bad_tokens_are_throttled(database_url: str, keys: Keys) -> None:
    async with client_for(make(database_url, failed_auth_limit=4)) as client:
        codes = [
            (await client.get("/v1/whoami", headers={"Authorization": f"Bearer not-a-token-{i}"})).status_code
            for i in range(6)
        ]
        assert codes == [401] * 4 + [429] * 2
        limited = await client.get("/v1/whoami", headers=keys.headers("admin"))
        problem(limited, 429, "rate-limited")
        assert int(limited.headers["retry-after"]) >= 1


async def test_pages_carry_security_headers(client) -> None:
    r = await client.get("/page")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src 'self';" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    api = await client.get("/v1/search")
    assert api.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in api.headers


def test_bidi_controls_are_removed() -> None:
    assert neutralise_bidi("Kim\u202eevil\u202c \u2067x\u2069") == "Kimevil x"
    assert neutralise_bidi("김민수 محمد") == "김민수 محمد"


async def test_metrics_need_a_role(client, keys: Keys) -> None:
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=keys.headers("admin"))).status_code == 200


async def test_a_client_that_gives_up_is_logged_as_client_closed(database_url: str) -> None:
    app = make(database_url, log_level="INFO")
    with structlog.testing.capture_logs() as logs:
        async with serve(app) as base:
            host, port = base.removeprefix("http://").split(":")
            _reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"POST /v1/slow HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nabc"
            )
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.close()
            for _ in range(50):
                if any(e["event"] == "client_closed" for e in logs):
                    break
                await asyncio.sleep(0.1)
    closed = [e for e in logs if e["event"] == "client_closed"]
    assert closed and closed[0]["status"] == 499 and closed[0]["path"] == "/v1/slow"
    assert not [e for e in logs if e.get("status") == 500 or e["log_level"] == "error"], logs


async def test_deep_json_in_any_body_type_or_in_the_query_is_refused(client) -> None:
    deep = "[" * 5000 + "]" * 5000
    r = await client.post("/v1/notes", content=deep, headers={"content-type": "text/plain"})
    problem(r, 400, "too-deep")
    problem(await client.get("/v1/search", params={"q": deep[:8000]}), 400, "too-deep")
    assert (await client.get("/v1/search", params={"q": "[a] {b}"})).json() == {"q": "[a] {b}"}
