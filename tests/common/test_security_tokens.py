"""Tokens at the edge: the shape of their claims, their size, and what a service's own key may sign."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from litestar import get

from services.common.app import ServiceSpec, build_app
from services.common.auth import KeySet, allow_peers, ensure_service_keys, load_private_jwk, mint_token, verify_token
from services.placement.settings import get_settings
from tests.support import AUDIENCE, ISSUER, Keys, client_for

SERVICE = "placement"


@get("/v1/issue", opt=allow_peers("progress"))
async def only_progress() -> dict[str, str]:
    return {"ok": "yes"}


def signed(keys: Keys, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "u", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, jwt.PyJWK(keys.private).key, algorithm="EdDSA", headers={"kid": keys.private["kid"]})


@pytest.fixture
def service_keys(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
async def client(database_url: str, keys: Keys, service_keys: Path):
    jwks = ensure_service_keys(service_keys)
    settings = get_settings(database_url=database_url, relay_enabled=False, service_jwks=str(jwks))
    async with client_for(build_app(settings, ServiceSpec("t", "t", [only_progress]))) as c:
        yield c


def service_token(folder: Path, service: str, *, sub: str | None = None, roles: list[str] | None = None) -> str:
    return mint_token(
        load_private_jwk(folder / f"service-{service}.jwk.json"),
        sub=sub or f"service:{service}",
        roles=roles or ["service"],
        issuer=ISSUER,
        audience=AUDIENCE,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("roles", [{"admin": False}, 7, "admin", ["admin", 3], None])
async def test_roles_must_be_a_list_of_strings(client, keys: Keys, roles: Any) -> None:
    r = await client.get("/v1/whoami", headers=bearer(signed(keys, roles=roles)))
    assert r.status_code == 401, r.text
    assert "roles" in r.json()["detail"]


async def test_a_huge_token_is_refused_without_parsing(client, keys: Keys) -> None:
    token = signed(keys, roles=["admin"], padding="x" * 20_000)
    r = await client.get("/v1/whoami", headers=bearer(token))
    assert r.status_code in (401, 431), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_service_key_signs_only_its_own_service_tokens(client, service_keys: Path) -> None:
    ok = await client.get("/v1/whoami", headers=bearer(service_token(service_keys, "placement")))
    assert ok.status_code == 200 and ok.json()["roles"] == ["service"] and ok.json()["sub"] == "service:placement"
    for token in (
        service_token(service_keys, "placement", roles=["admin"]),
        service_token(service_keys, "placement", roles=["service", "hr"]),
        service_token(service_keys, "placement", sub="official-1"),
        service_token(service_keys, "placement", sub="service:progress"),
    ):
        r = await client.get("/v1/whoami", headers=bearer(token))
        assert r.status_code == 401, r.text


async def test_a_service_only_route_accepts_only_its_callers(client, service_keys: Path) -> None:
    assert (await client.get("/v1/issue", headers=bearer(service_token(service_keys, "progress")))).status_code == 200
    r = await client.get("/v1/issue", headers=bearer(service_token(service_keys, "placement")))
    assert r.status_code == 403 and "progress" in r.json()["detail"]


async def test_a_service_key_is_not_trusted_as_an_identity_provider_key(keys: Keys, service_keys: Path) -> None:
    jwks = ensure_service_keys(service_keys)
    # even listed among the identity provider's key sets, a svc- kid is only looked up among service keys
    keyset = KeySet(f"{keys.jwks_file},{jwks}")
    with pytest.raises(Exception, match="kid"):
        await verify_token(
            service_token(service_keys, "placement", roles=["admin"]), keyset, issuer=ISSUER, audience=AUDIENCE
        )
