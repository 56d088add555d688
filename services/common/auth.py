"""Bearer JWTs verified against a JWKS; roles; the auth middleware; development keys and token minting.

Every route is authenticated unless its handler (or controller) has ``opt={"public": True}``,
and every authenticated route must also declare its roles with ``opt=allow(...)`` (or
``opt=allow_peers(...)``): :func:`check_declared` refuses to build an app with a route that says
neither. :func:`auth_middleware` checks both on every request.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from services.common.ids import OFFICIAL_ID_RULE, is_official_id

ROLES = ("learner", "instructor", "admin", "hr", "service")
ALLOWED_ALGS = ("EdDSA", "ES256", "ES384", "RS256", "PS256")
SERVICES = ("placement", "progress", "certification")
MAX_TOKEN_CHARS = 8192  # a bearer token longer than this is refused before any parsing
SERVICE_KID_PREFIX = "svc-"  # service keys are named svc-<service>-<random>: the kid names the signer


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    name: str = ""
    org: str = ""
    token: str = ""

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def peer(self) -> str:
        """The calling service's name for a ``service`` token (``sub`` is ``service:<name>``), else ''."""
        if "service" not in self.roles or not self.sub.startswith("service:"):
            return ""
        return self.sub.removeprefix("service:")


# The authenticated caller of the request being served, set by the auth middleware around the route
# (None on public routes): for a handler that takes no parameters (``/v1/whoami``), which spares it
# Litestar's parameter machinery. Other handlers take ``principal: Principal``.
principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)


class _Source:
    """One JWKS source: a file (re-read when it changes) or a URL (re-fetched on an unknown kid)."""

    def __init__(self, location: str, refresh_interval: float) -> None:
        self.location, self.refresh_interval = location, refresh_interval
        self.keys: dict[str, jwt.PyJWK] = {}
        self._stamp, self._checked = -1.0, -1e9

    def _load(self, data: dict[str, Any]) -> None:
        keys = {}
        for raw in data.get("keys", []):
            if "kid" not in raw or raw.get("use", "sig") != "sig":
                continue
            try:
                keys[raw["kid"]] = jwt.PyJWK(raw)
            except jwt.PyJWKError:
                continue
        self.keys = keys

    async def refresh(self, kid: str) -> None:
        if self.location.startswith(("http://", "https://")):
            if kid not in self.keys and time.monotonic() - self._checked > self.refresh_interval:
                self._checked = time.monotonic()
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(self.location)
                    response.raise_for_status()
                    self._load(response.json())
        elif time.monotonic() - self._checked > 1.0:
            # A stat of a small local file, at most once a second, so a rotated key set is picked up.
            self._checked = time.monotonic()
            path = Path(self.location)
            stamp = path.stat().st_mtime if path.exists() else 0.0  # noqa: ASYNC240
            if stamp != self._stamp:
                self._stamp = stamp
                self._load(json.loads(path.read_text()) if stamp else {})  # noqa: ASYNC240


class KeySet:
    """Trusted public keys from one or more comma-separated JWKS sources (URLs or files), e.g. the
    identity provider's key set and the services' own. It also remembers tokens it has verified
    (by their exact text, signature included) for up to a few minutes, so a client's repeated
    requests skip the signature check."""

    CACHE_SIZE, CACHE_SECONDS = 4096, 120.0

    def __init__(self, sources: str, refresh_interval: float = 30.0, service_sources: str = "") -> None:
        self.sources = [_Source(s.strip(), refresh_interval) for s in sources.split(",") if s.strip()]
        # The services' own keys: a token signed by one of them may only be a ``service`` token of
        # the service its kid names (``svc-<service>-...``).
        self.service_sources = [_Source(s.strip(), refresh_interval) for s in service_sources.split(",") if s.strip()]
        self.verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def remembered(self, token: str) -> Principal | None:
        hit = self.verified.get(token)
        if hit is None:
            return None
        if time.time() >= hit[1]:
            del self.verified[token]
            return None
        self.verified.move_to_end(token)
        return hit[0]

    def remember(self, token: str, principal: Principal, expires: float) -> None:
        self.verified[token] = (principal, min(expires, time.time() + self.CACHE_SECONDS))
        if len(self.verified) > self.CACHE_SIZE:
            self.verified.popitem(last=False)

    async def get(self, kid: str) -> jwt.PyJWK | None:
        return (await self.lookup(kid))[0]

    async def lookup(self, kid: str) -> tuple[jwt.PyJWK | None, str]:
        """The key for ``kid`` and, when it is a service key, the service it belongs to ('' otherwise)."""
        service = service_of_kid(kid)
        for source in self.service_sources if service else self.sources:
            try:
                await source.refresh(kid)
            except (httpx.HTTPError, OSError, ValueError):
                continue  # an unreachable source must not hide the keys of the others
            if kid in source.keys:
                return source.keys[kid], service
        return None, ""


def service_of_kid(kid: str) -> str:
    """``placement`` for a kid ``svc-placement-1a2b...``; '' for any other kid."""
    if not kid.startswith(SERVICE_KID_PREFIX):
        return ""
    name = kid.removeprefix(SERVICE_KID_PREFIX).split("-", 1)[0]
    return name if name in SERVICES else ""


class AuthError(Exception):
    pass


async def verify_token(token: str, keys: KeySet, *, issuer: str, audience: str) -> Principal:
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthError(f"the bearer token is longer than {MAX_TOKEN_CHARS} characters")
    cached = keys.remembered(token)
    if cached is not None:
        return cached
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError("the bearer token is not a well-formed JWT") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise AuthError(f"tokens signed with alg {alg!r} are not accepted")
    kid = header.get("kid")
    key, signer = await keys.lookup(kid) if isinstance(kid, str) else (None, "")
    if key is None:
        raise AuthError("the token's signing key (kid) is not in the trusted key set")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            leeway=30,
            options={"require": ["exp", "sub", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("the bearer token has expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthError(f"the bearer token is invalid: {exc}") from exc
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AuthError("the token's roles claim must be a list of strings")
    sub = claims["sub"]
    if not isinstance(sub, str) or not is_official_id(sub):
        raise AuthError(f"the token's sub claim must be an id of {OFFICIAL_ID_RULE}")
    if signer and (set(roles) != {"service"} or sub != f"service:{signer}"):
        raise AuthError(f"the {signer} service key signs only service tokens with sub service:{signer}")
    name, org = claims.get("name", ""), claims.get("org", "")
    principal = Principal(
        sub=sub,
        roles=frozenset(r for r in roles if r in ROLES),
        name=name[:200] if isinstance(name, str) else "",
        org=org[:64] if isinstance(org, str) else "",
        token=token,
    )
    keys.remember(token, principal, float(claims["exp"]))
    return principal


class FailureThrottle:
    """Counts refused tokens (not missing ones: the public rate limit counts those) per client
    address over a minute; past ``limit`` the address gets 429 until its oldest failure is a minute
    old. Per process, like the public rate limit."""

    WINDOW, MAX_ADDRESSES = 60.0, 10_000

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.failures: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, address: str) -> list[float]:
        cutoff = time.monotonic() - self.WINDOW
        recent = [t for t in self.failures.get(address, []) if t > cutoff]
        if recent:
            self.failures[address] = recent
        else:
            self.failures.pop(address, None)
        return recent

    def retry_after(self, address: str) -> int:
        """Seconds the address must wait, 0 when it may try."""
        if not self.limit or address not in self.failures:
            return 0
        recent = self._recent(address)
        if len(recent) < self.limit:
            return 0
        return max(1, int(recent[0] + self.WINDOW - time.monotonic()) + 1)

    def failed(self, address: str) -> None:
        if self.limit:
            self.failures.setdefault(address, []).append(time.monotonic())
            self.failures.move_to_end(address)
            if len(self.failures) > self.MAX_ADDRESSES:
                self.failures.popitem(last=False)


ACCESS = "lms_access"  # the opt key of a route's Access


@dataclass(frozen=True)
class Access:
    """Who may call a route: a caller holding one of ``roles``; for a service-only route, a
    ``service`` token of one of the services ``peers``."""

    roles: tuple[str, ...]
    peers: tuple[str, ...] = ()

    def refusal(self, user: Principal) -> str:
        """Why ``user`` may not call the route, '' when they may."""
        if self.peers:
            return "" if user.peer in self.peers else f"Only the {', '.join(self.peers)} service may call this."
        if user.roles.isdisjoint(self.roles):
            return f"This needs one of the roles: {', '.join(self.roles)}."
        return ""


def allow(*roles: str) -> dict[str, Access]:
    """Route metadata, ``opt=allow("admin", ...)`` on a handler or ``opt = allow(...)`` on a
    controller: the caller must hold one of ``roles``. The auth middleware checks it right after the
    token (not a Litestar guard: Litestar copies the route handler for every guard call)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")
    return {ACCESS: Access(roles)}


def allow_peers(*services: str) -> dict[str, Access]:
    """Route metadata of a service-only route, ``opt=allow_peers("progress")``: the caller must hold
    a ``service`` token of one of ``services``."""
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown services {unknown}")
    return {ACCESS: Access(("service",), services)}


class Authenticator:
    """What the auth middleware checks a caller against, resolved once when the app is built (each
    lookup in the app's state costs about as much as the cached token check itself)."""

    __slots__ = ("audience", "issuer", "keyset", "throttle")

    def __init__(self, keyset: KeySet, throttle: FailureThrottle, *, issuer: str, audience: str) -> None:
        self.keyset, self.throttle, self.issuer, self.audience = keyset, throttle, issuer, audience

    async def __call__(self, scope: Scope) -> Principal:
        throttle = self.throttle
        address = (scope.get("client") or ("",))[0]
        wait = throttle.retry_after(address)
        if wait:
            raise TooManyRequestsException(
                "Too many requests with a missing or invalid token from this address; retry later.",
                headers={"Retry-After": str(wait)},
            )
        header = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        scheme, _, token = header.partition(" ")
        token, scheme = token.strip(), scheme.lower()
        if scheme == "basic":
            # A service may map HTTP Basic credentials to a principal (e.g. an xAPI client); None refuses.
            basic = getattr(scope["litestar_app"].state, "basic_auth", None)
            if basic is not None:
                user: Principal | None = basic(ASGIConnection(scope), token)
                if user is None:
                    raise NotAuthorizedException("Unauthenticated: these Basic credentials are not accepted here.")
                return user
        if scheme != "bearer" or not token:
            raise NotAuthorizedException("Send an Authorization: Bearer <token> header.")
        try:
            return await verify_token(token, self.keyset, issuer=self.issuer, audience=self.audience)
        except AuthError as exc:
            throttle.failed(address)
            raise NotAuthorizedException(f"Unauthenticated: {exc}.") from exc


def auth_middleware(app: ASGIApp, exclude_prefix: str, authenticate: Authenticator) -> ASGIApp:
    """Litestar route middleware (it runs after routing, so it knows the route): authenticates the
    caller (a bearer token, or HTTP Basic where the service maps it to a principal) unless the route
    is public (``opt={"public": True}``), an ``OPTIONS`` request or under ``exclude_prefix`` (the
    docs), then applies the route's :class:`Access`. 401 without valid credentials, 429 for an
    address that keeps sending invalid tokens, 403 for the wrong role or peer. Reads the raw scope:
    building a connection object or a headers mapping costs more than the whole check. The caller
    is in the scope (``request.user``) and, while the route runs, in :data:`principal_var`."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        opt = scope["route_handler"].opt
        http: Any = scope
        if opt.get("public") or http["method"] == "OPTIONS" or http["path"].startswith(exclude_prefix):
            await app(scope, receive, send)
            return
        user = await authenticate(scope)
        access: Access | None = opt.get(ACCESS)
        # a route declaring no roles is refused at start-up (check_declared); fail closed anyway
        refusal = access.refusal(user) if access is not None else "This route declares no roles."
        if refusal:
            raise PermissionDeniedException(refusal)
        http["user"], http["auth"] = user, user.token
        token = principal_var.set(user)
        try:
            await app(scope, receive, send)
        finally:
            principal_var.reset(token)

    return middleware


def declared_access(handler: BaseRouteHandler) -> Access | None:
    access = handler.opt.get(ACCESS)
    return access if isinstance(access, Access) else None


def declared_peers(handler: BaseRouteHandler) -> tuple[str, ...]:
    """The services a service-only route accepts, () when it names none."""
    access = declared_access(handler)
    return access.peers if access is not None else ()


def declared_roles(handler: BaseRouteHandler) -> tuple[str, ...] | None:
    """The roles a route allows, ``()`` for a public route, None if it declares nothing."""
    if handler.opt.get("public"):
        return ()
    access = declared_access(handler)
    return access.roles if access is not None else None


def check_declared(handlers: list[BaseRouteHandler]) -> None:
    """Refuse an app with a route that is neither public nor declares its roles, or that is both
    (a public handler in a controller that declares roles), or that uses our access rule as a
    Litestar guard."""
    unclear = []
    for h in handlers:
        where = f"{sorted(h.http_methods)} {h.paths}"  # type: ignore[attr-defined]
        if getattr(h, "http_methods", None) == {"OPTIONS"}:
            continue
        if declared_roles(h) is None:
            unclear.append(f"{where} declares neither opt public nor opt=allow(...)")
        elif h.opt.get("public") and declared_access(h) is not None:
            unclear.append(f"{where} is public and declares roles")
        if any(isinstance(g, dict) for layer in h.ownership_layers for g in getattr(layer, "guards", None) or []):
            unclear.append(f"{where} passes allow() as a guard: write opt=allow(...)")
    if unclear:
        raise RuntimeError(f"routes with unclear access: {unclear}")


# --- development keys and token minting -------------------------------------------------


def new_signing_jwk(kid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh Ed25519 key as (private JWK, public JWK) named ``kid``."""
    private = json.loads(OKPAlgorithm.to_jwk(Ed25519PrivateKey.generate()))
    private.update(kid=kid, alg="EdDSA", use="sig")
    return private, {k: v for k, v in private.items() if k != "d"}


def write_private_jwk(path: Path, private: dict[str, Any]) -> None:
    """Write a private key readable by its owner only, atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(private))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def service_key_kid(service: str) -> str:
    return f"{SERVICE_KID_PREFIX}{service}-{uuid.uuid4().hex[:12]}"


def ensure_dev_keys(folder: Path) -> tuple[Path, Path]:
    """Create, once, in ``folder``: the development identity-provider key (``dev-private.jwk.json``,
    which mints any role for local use) and its JWKS (``jwks.json``), plus one service key per
    service (``service-<name>.jwk.json``) and their JWKS (``services-jwks.json``). Returns the
    development key's two paths."""
    private_path, jwks_path = folder / "dev-private.jwk.json", folder / "jwks.json"
    folder.mkdir(parents=True, exist_ok=True)
    if not (private_path.exists() and jwks_path.exists()):
        private, public = new_signing_jwk(f"dev-{uuid.uuid4().hex[:12]}")
        write_private_jwk(private_path, private)
        jwks_path.write_text(json.dumps({"keys": [public]}, indent=2))
    ensure_service_keys(folder)
    return private_path, jwks_path


def ensure_service_keys(folder: Path) -> Path:
    """One signing key per service in ``folder`` and the key set that verifies them all."""
    jwks_path = folder / "services-jwks.json"
    publics = []
    for service in SERVICES:
        path = folder / f"service-{service}.jwk.json"
        if not path.exists():
            write_private_jwk(path, new_signing_jwk(service_key_kid(service))[0])
        publics.append({k: v for k, v in load_private_jwk(path).items() if k != "d"})
    wanted = {"keys": publics}
    if not jwks_path.exists() or json.loads(jwks_path.read_text()) != wanted:
        jwks_path.write_text(json.dumps(wanted, indent=2))
    return jwks_path


def load_private_jwk(path: str | Path) -> dict[str, Any]:
    return dict(json.loads(Path(path).read_text()))


def mint_token(
    private_jwk: dict[str, Any],
    *,
    sub: str,
    roles: list[str],
    issuer: str,
    audience: str,
    name: str = "",
    org: str = "",
    ttl: int = 3600,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "roles": roles,
    }
    if name:
        claims["name"] = name
    if org:
        claims["org"] = org
    key = jwt.PyJWK(private_jwk)
    return jwt.encode(claims, key.key, algorithm=private_jwk.get("alg", "EdDSA"), headers={"kid": private_jwk["kid"]})


class ServiceTokens:
    """Short-lived ``service`` tokens this service presents to its peers, reused until near expiry."""

    def __init__(self, key_file: str, *, service: str, issuer: str, audience: str, ttl: int = 300) -> None:
        self.key_file, self.service, self.issuer, self.audience, self.ttl = (
            key_file,
            service,
            issuer,
            audience,
            ttl,
        )
        self._token, self._expires = "", 0.0

    def get(self) -> str:
        if time.time() > self._expires - 60:
            self._token = mint_token(
                load_private_jwk(self.key_file),
                sub=f"service:{self.service}",
                roles=["service"],
                issuer=self.issuer,
                audience=self.audience,
                ttl=self.ttl,
            )
            self._expires = time.time() + self.ttl
        return self._token
