"""Every endpoint of every service against every role, over real HTTP:
no token gets 401 (except the public routes), a role the route does not declare gets 403, a role
it declares is never refused for its role, a service-only route refuses every other service's
token, and nothing answers 5xx."""

from __future__ import annotations

import importlib
import re
import uuid
from typing import Any

import pytest

from services.common.auth import ROLES, declared_peers, declared_roles
from services.common.auth import SERVICES as PEERS
from services.common.settings import load_settings
from tests.support import Keys, client_for, create_database

SERVICES = ("placement", "progress", "certification")
_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def concrete(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        kind = match.group(2) or "str"
        return {"uuid": str(uuid.uuid4()), "int": "1", "float": "1.0", "date": "2026-01-05"}.get(kind, "x")

    return _PARAM.sub(fill, path)


def peer_rules(app: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, callers) of every service-only route that names its callers."""
    return [
        (method, route.path, declared_peers(handler))
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in sorted(getattr(handler, "http_methods", []))
        if declared_peers(handler)
    ]


def endpoints(app: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    found = []
    for route in app.routes:
        if route.path.startswith("/docs"):
            continue
        for handler in getattr(route, "route_handlers", []):
            roles = declared_roles(handler)
            for method in sorted(getattr(handler, "http_methods", [])):
                if method in {"OPTIONS", "HEAD"}:
                    continue
                assert roles is not None, f"{method} {route.path} declares no roles"
                found.append((method, route.path, roles))
    return found


@pytest.mark.parametrize("service", SERVICES)
async def test_every_endpoint_enforces_its_roles(service: str, pg_admin: str, keys: Keys) -> None:
    settings_module = importlib.import_module(f"services.{service}.settings")
    app_module = importlib.import_module(f"services.{service}.app")
    url = await create_database(pg_admin, service)
    try:
        await importlib.import_module(f"services.{service}.seed").seed(url)  # a realistic, seeded database
    except ModuleNotFoundError:
        pass
    settings = load_settings(settings_module.Settings, service, database_url=url, relay_enabled=False)
    app = app_module.create_app(settings)
    routes = endpoints(app)
    assert len(routes) >= 3
    if service in ("progress", "certification"):  # each has one route only its upstream peer may call
        assert peer_rules(app), service
    failures: list[str] = []
    async with client_for(app) as client:
        for method, path, roles in routes:
            target = concrete(path)
            body = {} if method in {"POST", "PUT", "PATCH"} else None
            anonymous = await client.request(method, target, json=body)
            if roles == ():
                if anonymous.status_code in (401, 403):
                    failures.append(f"public {method} {path} refused anonymous: {anonymous.status_code}")
            elif anonymous.status_code != 401:
                failures.append(f"{method} {path} without token: {anonymous.status_code}")
            for role in ROLES:
                response = await client.request(method, target, json=body, headers=keys.headers(role))
                if response.status_code >= 500:
                    failures.append(f"{method} {path} as {role}: {response.status_code} {response.text[:200]}")
                elif roles and role not in roles and response.status_code != 403:
                    failures.append(f"{method} {path} as {role} (allowed {roles}): {response.status_code}")
                elif role in roles and response.status_code == 401:
                    failures.append(f"{method} {path} as allowed {role}: 401")
                is_page = not path.startswith("/v1") and response.headers["content-type"].startswith("text/html")
                if response.status_code >= 400 and not is_page:  # web pages answer errors in HTML
                    assert response.headers["content-type"].startswith("application/problem+json"), (
                        f"{method} {path} as {role}: {response.headers['content-type']}"
                    )
        for method, path, callers in peer_rules(app):
            target, body = concrete(path), {} if method in {"POST", "PUT", "PATCH"} else None
            for peer in PEERS:
                headers = keys.headers("service", sub=f"service:{peer}")
                response = await client.request(method, target, json=body, headers=headers)
                if peer in callers and response.status_code in (401, 403):
                    failures.append(f"{method} {path} refused its caller {peer}: {response.status_code}")
                elif peer not in callers and response.status_code != 403:
                    failures.append(f"{method} {path} as service {peer} (callers {callers}): {response.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_hr_is_read_only(service: str, pg_admin: str) -> None:
    settings_module = importlib.import_module(f"services.{service}.settings")
    app_module = importlib.import_module(f"services.{service}.app")
    settings = load_settings(settings_module.Settings, service, database_url="postgresql://unused/x")
    allowed_writes = {
        (m, p)
        for m, p, roles in endpoints(app_module.create_app(settings))
        if "hr" in roles and m in {"POST", "PUT", "PATCH", "DELETE"}
    }
    # HR may manage its own webhook subscriptions (and ask for a redelivery), never certificate data.
    assert all("webhook" in p or "subscription" in p for _, p in allowed_writes), allowed_writes
