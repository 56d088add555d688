"""Bearer tokens against a real app on a real port: every way a token can be wrong."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import asyncpg
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Controller, Request, get, post
from litestar.params import JSONBody
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import ServiceSpec, build_app
from services.common.auth import allow, allow_peers
from services.common.db import plain_url
from services.placement.settings import get_settings
from tests.support import AUDIENCE, ISSUER, Keys, client_for

SERVICE = "placement"


class Thing(msgspec.Struct):
    name: str = msgspec.field()
    count: int


@post("/v1/things", opt=allow("admin"))
async def create_thing(data: JSONBody[Thing]) -> Thing:
    return data


@get("/v1/numbers/{n:int}", opt=allow("admin"))
async def number(n: int, session: AsyncSession) -> dict[str, int]:
    return {"n": int((await session.execute(text("SELECT CAST(:n AS integer)"), {"n": n})).scalar_one())}


@post("/v1/raw/{n:int}", opt=allow("admin"))
async def raw_insert(n: int, request: Request[Any, Any, Any]) -> None:
    """Raw asyncpg, as hot paths use: the same message id twice violates uq_outbox_message_id."""
    conn = await asyncpg.connect(plain_url(request.app.state.settings.database_url))
    try:
        for _ in range(2):
            await conn.execute(
                "INSERT INTO outbox (message_id, destination, method, path, body, request_id, created_at,"
                " next_attempt_at, attempts) VALUES ('00000000-0000-7000-8000-000000000001', 'p', 'PUT', 'x',"
                " '{}', '', now(), now(), $1)",
                n,
            )
    finally:
        await conn.close()


@get("/v1/public-thing", opt={"public": True})
async def public_thing() -> dict[str, str]:
    return {"ok": "yes"}


def make_app(database_url: str) -> object:
    settings = get_settings(database_url=database_url, relay_enabled=False)
    spec = ServiceSpec(
        "t",
        "t",
        [create_thing, public_thing, number, raw_insert],
        constraint_problems={"uq_outbox_message_id": ("duplicate-message", "That message was already queued.")},
    )
    return build_app(settings, spec)


@pytest.fixture
async def client(database_url: str):
    async with client_for(make_app(database_url)) as c:
        yield c


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_valid_token_and_claims(client, keys: Keys) -> None:
    r = await client.get("/v1/whoami", headers=keys.headers("admin", sub="u-1", name="Kim", org="SEOUL-01"))
    assert r.status_code == 200
    assert r.json() == {"sub": "u-1", "roles": ["admin"], "name": "Kim", "org": "SEOUL-01"}


async def assert_problem(r, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"].startswith("urn:lms:problem:")
    assert words in body["detail"], body


async def test_missing_token(client) -> None:
    r = await client.get("/v1/whoami")
    await assert_problem(r, 401, "Authorization: Bearer")
    assert r.headers["www-authenticate"] == "Bearer"


async def test_expired_token(client, keys: Keys) -> None:
    token = keys.token("admin", ttl=-120)
    await assert_problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 401, "expired")


async def test_forged_signature(client, keys: Keys, tmp_path) -> None:
    other = Keys(tmp_path)  # a different key that claims the trusted key's kid
    other.private["kid"] = keys.private["kid"]
    token = other.token("admin")
    await assert_problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 401, "invalid")


async def test_tampered_payload(client, keys: Keys) -> None:
    header, _, sig = keys.token("learner").split(".")
    payload = b64({"sub": "x", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "iat": 1, "exp": 2**40})
    token = f"{header}.{payload}.{sig}"
    await assert_problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 401, "invalid")


async def test_alg_none(client, keys: Keys) -> None:
    now = int(time.time())
    claims = {"sub": "x", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': keys.private['kid']})}.{b64(claims)}."
    await assert_problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 401, "none")


async def test_hmac_with_public_key_is_rejected(client, keys: Keys) -> None:
    now = int(time.time())
    claims = {"sub": "x", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    token = jwt.encode(claims, "secret-guess", algorithm="HS256", headers={"kid": keys.private["kid"]})
    await assert_problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 401, "HS256")


async def test_unknown_kid(client) -> None:
    now = int(time.time())
    key = Ed25519PrivateKey.generate()
    claims = {"sub": "x", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "nobody"})
    await assert_problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 401, "kid")


async def test_wrong_audience(client, keys: Keys) -> None:
    now = int(time.time())
    claims = {"sub": "x", "roles": ["admin"], "iss": ISSUER, "aud": "other", "iat": now, "exp": now + 600}
    token = jwt.encode(claims, jwt.PyJWK(keys.private).key, algorithm="EdDSA", headers={"kid": keys.private["kid"]})
    await assert_problem(await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"}), 401, "udience")


async def test_wrong_role_is_403(client, keys: Keys) -> None:
    r = await client.post("/v1/things", json={"name": "a", "count": 1}, headers=keys.headers("learner"))
    await assert_problem(r, 403, "admin")
    r = await client.post("/v1/things", json={"name": "a", "count": 1}, headers=keys.headers("admin"))
    assert r.status_code == 201


async def test_public_route_needs_no_token(client) -> None:
    assert (await client.get("/v1/public-thing")).json() == {"ok": "yes"}


async def test_every_route_must_declare_roles(database_url: str) -> None:
    @get("/v1/undeclared")
    async def undeclared() -> None:
        return None

    settings = get_settings(database_url=database_url, relay_enabled=False)
    with pytest.raises(RuntimeError, match="undeclared"):
        build_app(settings, ServiceSpec("t", "t", [undeclared]))

    class Admin(Controller):
        path = "/v1/admin-things"
        opt = allow("admin")

        @get("/open", opt={"public": True})
        async def open_thing(self) -> None:
            return None

    with pytest.raises(RuntimeError, match="is public and declares roles"):
        build_app(settings, ServiceSpec("t", "t", [Admin]))

    @get("/v1/guarded", guards=[allow("admin")])  # type: ignore[list-item]
    async def guarded() -> None:
        return None

    with pytest.raises(RuntimeError, match="write opt=allow"):
        build_app(settings, ServiceSpec("t", "t", [guarded]))


async def test_a_handler_declaration_replaces_its_controllers(database_url: str, keys: Keys) -> None:
    class Things(Controller):
        path = "/v1/mixed"
        opt = allow("admin")

        @get("/admin")
        async def for_admins(self) -> None:
            return None

        @get("/learner", opt=allow("learner"))
        async def for_learners(self) -> None:
            return None

        @get("/progress", opt=allow_peers("progress"))
        async def for_progress(self) -> None:
            return None

    settings = get_settings(database_url=database_url, relay_enabled=False)
    async with client_for(build_app(settings, ServiceSpec("t", "t", [Things]))) as client:
        for path, allowed, refused in (
            ("/v1/mixed/admin", keys.headers("admin"), keys.headers("learner")),
            ("/v1/mixed/learner", keys.headers("learner"), keys.headers("admin")),
            (
                "/v1/mixed/progress",
                keys.headers("service", sub="service:progress"),
                keys.headers("service", sub="service:placement"),
            ),
        ):
            assert (await client.get(path, headers=allowed)).status_code == 200, path
            await assert_problem(await client.get(path, headers=refused), 403, "")
            await assert_problem(await client.get(path), 401, "Bearer")


async def test_validation_problem_lists_fields(client, keys: Keys) -> None:
    r = await client.post("/v1/things", json={"name": 5, "count": "x"}, headers=keys.headers("admin"))
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "urn:lms:problem:validation"
    assert body["errors"] and body["errors"][0]["field"] in {"name", "count"}
    r = await client.post(
        "/v1/things",
        content=b"{not json",
        headers={**keys.headers("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/v1/things", content=b"", headers=keys.headers("admin"))
    assert r.status_code == 400


async def test_oversized_body_is_413(client, keys: Keys) -> None:
    big = {"name": "x" * 3_000_000, "count": 1}
    r = await client.post("/v1/things", json=big, headers=keys.headers("admin"))
    assert r.status_code == 413 and r.json()["type"] == "urn:lms:problem:payload-too-large"


async def test_request_id_echoed_or_generated(client, keys: Keys) -> None:
    r = await client.get("/v1/whoami", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42" and r.json()["request_id"] == "trace-42"
    r = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 32


async def test_health_metrics_docs(client, keys: Keys) -> None:
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health/ready")).json() == {"status": "ready"}
    assert (await client.get("/metrics")).status_code == 401  # metrics are not public
    assert (await client.get("/metrics", headers=keys.headers("learner"))).status_code == 403
    metrics = await client.get("/metrics", headers=keys.headers("service", sub="service:prometheus"))
    assert metrics.status_code == 200 and "lms_requests_total" in metrics.text
    schema = (await client.get("/docs/openapi.json")).json()
    assert schema["openapi"].startswith("3.1") and "/v1/whoami" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_cors_preflight(client) -> None:
    r = await client.options(
        "/v1/whoami",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code in (200, 204)
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
    r = await client.options(
        "/v1/whoami",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key, x-experience-api-version",
        },
    )
    assert r.status_code in (200, 204), r.text  # browser-based xAPI content passes the preflight
    r = await client.get("/health/live", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_cors_headers_only_for_requests_with_an_origin(client, keys: Keys) -> None:
    browser = {"Origin": "http://localhost:5173"}
    r = await client.get("/v1/whoami", headers={**browser, **keys.headers("learner")})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "X-Request-ID" in r.headers["access-control-expose-headers"]
    refused = await client.get("/v1/whoami", headers=browser)  # an error answer carries them too
    await assert_problem(refused, 401, "Bearer")
    assert refused.headers["access-control-allow-origin"] == "http://localhost:5173"
    r = await client.get("/v1/whoami", headers=keys.headers("learner"))  # a server calling: no CORS
    assert r.status_code == 200 and not any(h.startswith("access-control-") for h in r.headers)
    await assert_problem(await client.get("/v1/whoami"), 401, "Bearer")


async def test_key_set_from_several_sources_survives_an_unreachable_one(keys: Keys, tmp_path) -> None:
    from services.common.auth import KeySet, verify_token

    other = Keys(tmp_path)
    keyset = KeySet(f"http://127.0.0.1:9/unreachable.json,{keys.jwks_file},{other.jwks_file}")
    principal = await verify_token(other.token("hr", sub="h-1"), keyset, issuer=ISSUER, audience=AUDIENCE)
    assert principal.sub == "h-1" and principal.roles == {"hr"}
    assert await KeySet(str(keys.jwks_file)).get(other.private["kid"]) is None


async def test_public_and_tokenless_requests_are_rate_limited(database_url: str, keys: Keys) -> None:
    settings = get_settings(database_url=database_url, relay_enabled=False, public_rate_limit=5)
    app = build_app(settings, ServiceSpec("t", "t", [create_thing, public_thing]))
    async with client_for(app) as client:
        codes = [(await client.get("/v1/public-thing")).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
        limited = await client.get("/v1/public-thing")
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert limited.json()["type"] == "urn:lms:problem:rate-limited"
        # authenticated calls and health probes are not counted against the public budget
        assert (await client.get("/v1/whoami", headers=keys.headers("admin"))).status_code == 200
        assert [(await client.get("/health/live")).status_code for _ in range(10)] == [200] * 10


async def test_a_value_the_database_driver_refuses_is_a_400(client, keys: Keys) -> None:
    assert (await client.get("/v1/numbers/7", headers=keys.headers("admin"))).json() == {"n": 7}
    r = await client.get("/v1/numbers/226901656471", headers=keys.headers("admin"))
    assert r.status_code == 400 and r.json()["type"] == "urn:lms:problem:invalid-value"


async def test_error_responses_are_documented_as_problems(client) -> None:
    schema = (await client.get("/docs/openapi.json")).json()
    operation = schema["paths"]["/v1/things"]["post"]
    for status in ("400", "401", "403", "409", "413", "429", "503"):
        assert "application/problem+json" in operation["responses"][status]["content"], status
    public = schema["paths"]["/v1/public-thing"]["get"]["responses"]
    assert "401" not in public and "403" not in public


async def test_verified_tokens_are_remembered_until_they_expire(keys: Keys) -> None:
    from services.common.auth import KeySet, verify_token

    keyset = KeySet(str(keys.jwks_file))
    token = keys.token("learner", sub="cached")
    first = await verify_token(token, keyset, issuer=ISSUER, audience=AUDIENCE)
    assert keyset.remembered(token) == first
    keyset.remember(token, first, time.time() - 1)  # as if its lifetime had run out
    assert keyset.remembered(token) is None and token not in keyset.verified
    assert (await verify_token(token, keyset, issuer=ISSUER, audience=AUDIENCE)).sub == "cached"
    with pytest.raises(
        Exception, match=r"invalid|well-formed"
    ):  # a tampered copy is a different text: never a cache hit
        await verify_token(
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"), keyset, issuer=ISSUER, audience=AUDIENCE
        )


async def test_raw_asyncpg_errors_become_problems(client, keys: Keys) -> None:
    r = await client.post("/v1/raw/1", headers=keys.headers("admin"))
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:duplicate-message"
    assert r.json()["detail"] == "That message was already queued."
    r = await client.post(f"/v1/raw/{2**40}", headers=keys.headers("admin"))  # the driver refuses the value
    assert r.status_code == 400 and r.json()["type"] == "urn:lms:problem:invalid-value"
