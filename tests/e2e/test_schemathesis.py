"""Schemathesis against each service's own OpenAPI document, over HTTP to a real process:
no 5xx for any generated request, and every response matches the documented schema."""

from __future__ import annotations

import importlib
import re

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from services.common.auth import declared_peers, declared_roles
from services.common.settings import load_settings
from tests.e2e.stack import Stack


def roles_by_operation(service: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(method, OpenAPI path) -> the roles the route declares, so each case is sent as a caller
    that may make it (a wrong role would only ever meet the 403 the authorization matrix covers);
    a service-only route that names its callers gets ``service:<caller>`` entries."""
    settings = load_settings(importlib.import_module(f"services.{service}.settings").Settings, service)
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    found = {}
    for route in app.routes:
        path = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                peers = declared_peers(handler)
                found[(method, path)] = tuple(f"service:{p}" for p in peers) or declared_roles(handler) or ()
    return found


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.parametrize("service", ["placement", "progress", "certification"])
async def test_openapi_conformance(stack: Stack, service: str) -> None:
    base = stack.base(service)
    schema = schemathesis.openapi.from_url(f"{base}/docs/openapi.json")
    failures: list[str] = []
    seen: dict[int, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    allowed = roles_by_operation(service)
    for operation in operations:
        roles = allowed.get((operation.method.upper(), operation.path)) or ("learner",)

        @hypothesis.settings(
            max_examples=15,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            role = roles[0] if len(roles) == 1 else roles[abs(hash(str(case.body))) % len(roles)]  # noqa: B023
            role, _, peer = role.partition(":")
            sub = f"service:{peer}" if peer else "official-fuzz"
            headers = {"Authorization": f"Bearer {stack.keys.token(role, sub=sub)}"}
            response = case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1

        try:
            run()
        except BaseException as exc:  # collect every operation's failures, then report them all
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    print(service, sorted(seen.items()))
    assert not failures, "\n\n".join(failures)
