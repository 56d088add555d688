"""What every xAPI resource shares: the version header (required on requests, sent on every
answer, errors included, in the version asked for), strict query parameters, agents in query
strings, authority of the caller and HTTP Basic for a configured xAPI client."""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection

from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import Problem, exception_handlers
from services.progress.db import iso
from services.progress.domain.xapi.statements import ifi
from services.progress.domain.xapi.validate import agent_errors, parse_timestamp

VERSIONS = ["1.0.3", "2.0.0"]
VERSION_RE = re.compile(r"^(1\.0(\.[0-3])?|2\.0(\.0)?)$")
HEADER = "X-Experience-API-Version"


def answered_version(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """1.0.3 to a 1.0.x caller, 2.0.0 to a 2.0.x caller; to a request naming no version (or one
    not spoken) the configured ``xapi_unversioned_answer``, by default the newest."""
    sent = request.headers.get(HEADER, "")
    if sent.startswith("1.0"):
        return "1.0.3"
    if sent.startswith("2.0"):
        return "2.0.0"
    return str(request.app.state.settings.xapi_unversioned_answer)


def version(request: Request[Any, Any, Any]) -> str:
    """The version the caller speaks; 400 when the header is missing or names another version."""
    sent = request.headers.get(HEADER)
    if not sent:
        raise Problem(400, "xapi-version-missing", f"Send the {HEADER} header (1.0.3 or 2.0.0).")
    if not VERSION_RE.match(sent.strip()):
        raise Problem(400, "xapi-version-unsupported", f"{HEADER} {sent!r} is not spoken here; use 1.0.3 or 2.0.0.")
    return answered_version(request)


def headers(request: Request[Any, Any, Any], **extra: str) -> dict[str, str]:
    return {HEADER: answered_version(request), **extra}


def bad(detail: str, errors: list[str] | None = None) -> Problem:
    return Problem(400, "invalid-xapi-request", detail, errors=[{"reason": e} for e in errors] if errors else None)


def params(request: Request[Any, Any, Any], allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, str]:
    """The query parameters, refusing unknown or wrongly cased names (400) and repeated ones."""
    allowed = set(allowed)
    unknown = sorted(k for k in request.query_params if k not in allowed)
    missing = sorted(k for k in required if k not in request.query_params)
    problems = [f"{k}: is not a parameter of this resource (names are case sensitive)" for k in unknown]
    problems += [f"{k}: is required" for k in missing]
    for key in request.query_params:
        if len(request.query_params.getall(key)) > 1:
            problems.append(f"{key}: given more than once")
    if problems:
        raise bad("; ".join(problems), problems)
    return {k: request.query_params[k] for k in request.query_params}


def agent_param(value: str, name: str = "agent") -> dict[str, Any]:
    try:
        agent = msgspec.json.decode(value)
    except msgspec.DecodeError as exc:
        raise bad(f"{name}: must be a JSON Agent object") from exc
    problems = agent_errors(agent, name)
    if problems:
        raise bad("; ".join(problems), problems)
    return dict(agent)


def agent_key(value: str, name: str = "agent") -> str:
    key = ifi(agent_param(value, name))
    if key is None:
        raise bad(f"{name}: must be identified (an anonymous Group cannot be looked up)")
    return key


def time_param(params: dict[str, str], name: str) -> datetime | None:
    if name not in params:
        return None
    ts = parse_timestamp(params[name])
    if ts is None:
        raise bad(f"{name}: must be an ISO 8601 timestamp")
    return ts


def authority(principal: Principal, home: str) -> dict[str, Any]:
    """The authority recorded on statements sent with these credentials."""
    return {"objectType": "Agent", "account": {"homePage": home, "name": principal.sub}}


def own_key(principal: Principal, home: str) -> str | None:
    """Learners read only statements they are the actor of; service and admin read all."""
    return None if principal.has("service", "admin") else f"actor:account:{home}|{principal.sub}"


def basic_auth(connection: ASGIConnection[Any, Any, Any, Any], credentials: str) -> Principal | None:
    """HTTP Basic on the xAPI paths for the one configured xAPI client (off unless both the user
    and the password are set): a ``service`` principal named ``xapi:<user>``."""
    settings = connection.app.state.settings
    user, password = settings.xapi_basic_user, settings.xapi_basic_password
    if not (user and password and connection.url.path.startswith("/xapi/")):
        return None
    try:
        given_user, _, given_password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    same = hmac.compare_digest(given_user.encode(), user.encode()) & hmac.compare_digest(
        given_password.encode(), password.encode()
    )
    return Principal(sub=f"xapi:{user}", roles=frozenset({"service"})) if same else None


def _with_version(handler: Callable[..., Response[Any]]) -> Callable[..., Response[Any]]:
    def wrapped(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response = handler(request, exc)
        response.headers[HEADER] = answered_version(request)
        if request.method in ("GET", "HEAD") and request.url.path.rstrip("/") == "/xapi/statements":
            response.headers.setdefault("X-Experience-API-Consistent-Through", iso(utcnow()))
        return response

    return wrapped


ERROR_HANDLERS = {k: _with_version(v) for k, v in exception_handlers.items()}
