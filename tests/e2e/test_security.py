"""Security across the three running services: bad tokens, answer keys never shown to learners,
injection attempts, oversized bodies and rate limits on the token-less endpoints."""

from __future__ import annotations

import base64
import json
import random
import time
from typing import Any

import httpx
import jwt

from services.demo import Client, Official, item_bank, take_diagnostic
from tests.e2e.stack import SERVICES, Stack
from tests.support import AUDIENCE, ISSUER, Keys

SECRET_FIELDS = {"answer", "a", "b", "c", "answer_key", "discrimination", "difficulty", "guessing"}
INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE certificate; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "{{7*7}}",
]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def bad_tokens(keys: Keys, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = {"sub": "x", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    forger = Keys(tmp_path)
    forger.private["kid"] = keys.private["kid"]
    return {
        "expired": keys.token("admin", ttl=-300),
        "forged": forger.token("admin"),
        "alg none": f"{b64({'alg': 'none', 'kid': keys.private['kid']})}.{b64(claims)}.",
        "hmac with public key": jwt.encode(
            claims, keys.private["x"] * 2, algorithm="HS256", headers={"kid": keys.private["kid"]}
        ),
    }


def secret_keys(value: Any, path: str = "$") -> list[str]:
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in SECRET_FIELDS:
                found.append(f"{path}.{key}")
            found += secret_keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += secret_keys(inner, f"{path}[{i}]")
    return found


async def test_bad_tokens_are_refused_everywhere(stack: Stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            for name, token in bad_tokens(stack.keys, tmp_path).items():
                r = await client.get(f"{stack.base(service)}/v1/whoami", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401, (service, name, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")


async def test_learners_never_see_answer_keys_or_item_parameters(stack: Stack) -> None:
    seen: list[tuple[str, Any]] = []

    async def record(response: httpx.Response) -> None:
        await response.aread()
        if response.headers.get("content-type", "").startswith("application/json"):
            seen.append((str(response.url), response.json()))

    def mint(role: str, sub: str = "", name: str = "", org: str = "") -> str:
        return stack.keys.token(role, sub=sub or role, name=name, org=org)

    client = Client({s: stack.base(s) for s in SERVICES}, mint)
    admin = mint("admin")
    bank = await item_bank(client, admin)  # every page: the seed bank has more than 500 items
    client.http.event_hooks["response"] = [record]  # from here on, only the learner's calls
    official = Official("secret-keeper", "Kim", "CITY-01", 0.3)
    await take_diagnostic(client, official, bank, random.Random(1))
    learner = mint("learner", sub=official.id)
    sessions_and_results = [
        ("placement", "/v1/results"),
        ("placement", f"/v1/results/{official.result_id}"),
    ]
    for service, path in sessions_and_results:
        await client.call(service, "GET", path, learner)
    await client.aclose()
    assert len(seen) >= official.items + 3
    leaks = [(url, where) for url, body in seen for where in secret_keys(body)]
    assert not leaks, leaks
    served_stems = [body["current_item"] or {} for _, body in seen if isinstance(body, dict) and "current_item" in body]
    assert served_stems and all("options" in item for item in served_stems if item)


async def test_injection_attempts_in_query_parameters_and_text(stack: Stack) -> None:
    headers = {
        role: stack.keys.headers(role, sub=f"inj-{role}", name="<script>x</script>'; --")
        for role in ("admin", "hr", "learner", "instructor")
    }
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            schema = (await client.get(f"{stack.base(service)}/docs/openapi.json")).json()
            for path, operations in schema["paths"].items():
                if "{" in path:
                    continue
                get = operations.get("get")
                if not get:
                    continue
                names = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
                for name in names:
                    for payload in INJECTIONS:
                        for role_headers in headers.values():
                            r = await client.get(
                                f"{stack.base(service)}{path}", params={name: payload}, headers=role_headers
                            )
                            assert r.status_code < 500, (service, path, name, payload, r.status_code, r.text[:200])
        # a hostile display name travels into a certificate and is shown escaped on the public page
        body = {
            "official": {"id": "inj-official", "name": "<script>alert('x')</script>", "org": "' OR 1=1 --"},
            "completed_at": "2026-11-01T09:00:00Z",
            "curriculum_version": "2026.1",
        }
        service = stack.keys.headers("service", sub="service:progress")
        issued = await client.put(
            f"{stack.base('certification')}/v1/officials/inj-official/levels/0/certificate", json=body, headers=service
        )
        assert issued.status_code == 201
        page = await client.get(f"{stack.base('certification')}/verify/{issued.json()['serial']}?lang=en")
        assert page.status_code == 200 and "<script>alert" not in page.text and "&lt;script&gt;" in page.text
        # and every table is still there: the feed and verification keep working
        assert (
            await client.get(f"{stack.base('certification')}/v1/certificates", headers=headers["hr"])
        ).status_code == 200


async def test_oversized_bodies_get_413_everywhere(stack: Stack) -> None:
    big = b'{"x": "' + b"x" * 3_000_000 + b'"}'
    targets = {"placement": "/v1/items/import", "progress": "/v1/events", "certification": "/v1/verify"}
    async with httpx.AsyncClient(timeout=30) as client:
        for service, path in targets.items():
            r = await client.post(
                f"{stack.base(service)}{path}",
                content=big,
                headers={**stack.keys.headers("admin"), "content-type": "application/json"},
            )
            assert r.status_code == 413, (service, r.status_code)
            assert r.json()["type"] == "urn:lms:problem:payload-too-large"


async def test_token_less_endpoints_are_rate_limited(stack: Stack) -> None:
    stack.extra_env = {"LMS_PUBLIC_RATE_LIMIT": "30"}
    stack.stop("certification")
    stack.start("certification")
    async with httpx.AsyncClient(timeout=10) as client:
        codes = [
            (await client.get(f"{stack.base('certification')}/v1/verify/LMS-2026-L0-000001-0")).status_code
            for _ in range(40)
        ]
        assert codes[:30].count(429) == 0 and codes[30:] == [429] * 10
        jwks = await client.get(f"{stack.base('certification')}/.well-known/jwks.json")
        assert (jwks.status_code == 429 and "retry" in jwks.json()["detail"].lower()) or jwks.status_code == 429
        # signed-in callers are not held back by the anonymous budget
        who = await client.get(f"{stack.base('certification')}/v1/whoami", headers=stack.keys.headers("hr"))
        assert who.status_code == 200


async def test_each_service_key_signs_only_its_own_calls(stack: Stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from services.common.auth import ensure_service_keys, load_private_jwk, mint_token

    folder = tmp_path / "service-keys"
    folder.mkdir()
    stack.extra_env = {"LMS_SERVICE_JWKS": str(ensure_service_keys(folder))}
    for service in SERVICES:
        stack.extra_env[f"LMS_{service.upper()}_SERVICE_KEY_FILE"] = str(folder / f"service-{service}.jwk.json")
    stack.stop_all()
    for service in SERVICES:
        stack.start(service)

    def signed(signer: str, roles: list[str] | None = None, sub: str | None = None) -> dict[str, str]:
        key = load_private_jwk(folder / f"service-{signer}.jwk.json")
        token = mint_token(
            key, sub=sub or f"service:{signer}", roles=roles or ["service"], issuer=ISSUER, audience=AUDIENCE
        )
        return {"Authorization": f"Bearer {token}"}

    placement = {
        "official": {"id": "keyed-1", "name": "Kim", "org": "CITY-01"},
        "level": 1,
        "ability": 0.1,
        "standard_error": 0.3,
        "completed_at": "2026-11-01T09:00:00Z",
    }
    completion = {
        "official": {"id": "keyed-1", "name": "Kim", "org": "CITY-01"},
        "completed_at": "2026-11-01T09:00:00Z",
        "curriculum_version": "2026.1",
    }
    issue = f"{stack.base('certification')}/v1/officials/keyed-1/levels/1/certificate"
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.put(
            f"{stack.base('progress')}/v1/placements/r-keyed-1", json=placement, headers=signed("placement")
        )
        assert r.status_code == 201, r.text
        r = await client.put(issue, json=completion, headers=signed("placement"))
        assert r.status_code == 403, r.text  # placement's key may not issue certificates
        r = await client.put(issue, json=completion, headers=signed("progress"))
        assert r.status_code == 201, r.text
        for service in SERVICES:  # a service key mints nothing but its own service tokens
            for headers in (signed("placement", roles=["admin"]), signed("progress", sub="service:certification")):
                r = await client.get(f"{stack.base(service)}/v1/whoami", headers=headers)
                assert r.status_code == 401, (service, r.text)
            assert (await client.get(f"{stack.base(service)}/metrics")).status_code == 401
            r = await client.get(f"{stack.base(service)}/v1/whoami", headers={"X-Pad": "x" * 40_000})
            assert r.status_code == 431
