"""Bearer JWTs verified against a JWKS; roles; guards; development keys and token minting.

Every route is authenticated unless its handler (or controller) has ``opt={"public": True}``,
and every authenticated route must also declare its roles with ``guards=[allow(...)]``:
:func:`check_declared` refuses to build an app with a route that says neither.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

ROLES = ("learner", "instructor", "admin", "hr", "service")
ALLOWED_ALGS = ("EdDSA", "ES256", "ES384", "RS256", "PS256")


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    name: str = ""
    org: str = ""
    token: str = ""

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


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

    def __init__(self, sources: str, refresh_interval: float = 30.0) -> None:
        self.sources = [_Source(s.strip(), refresh_interval) for s in sources.split(",") if s.strip()]
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
        for source in self.sources:
            try:
                await source.refresh(kid)
            except (httpx.HTTPError, OSError, ValueError):
                continue  # an unreachable source must not hide the keys of the others
            if kid in source.keys:
                return source.keys[kid]
        return None


class AuthError(Exception):
    pass


async def verify_token(token: str, keys: KeySet, *, issuer: str, audience: str) -> Principal:
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
    key = await keys.get(kid) if isinstance(kid, str) else None
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
    if isinstance(roles, str):
        roles = roles.split()
    principal = Principal(
        sub=str(claims["sub"]),
        roles=frozenset(r for r in roles if r in ROLES),
        name=str(claims.get("name", ""))[:200],
        org=str(claims.get("org", ""))[:64],
        token=token,
    )
    keys.remember(token, principal, float(claims["exp"]))
    return principal


class JWTAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        basic = getattr(connection.app.state, "basic_auth", None)
        if scheme.lower() == "basic" and basic is not None:
            # A service may map HTTP Basic credentials to a principal (e.g. an xAPI client); None refuses.
            user = basic(connection, token.strip())
            if user is None:
                raise NotAuthorizedException("Unauthenticated: these Basic credentials are not accepted here.")
            return AuthenticationResult(user=user, auth=token)
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("Send an Authorization: Bearer <token> header.")
        state = connection.app.state
        try:
            principal = await verify_token(
                token.strip(),
                state.keyset,
                issuer=state.settings.jwt_issuer,
                audience=state.settings.jwt_audience,
            )
        except AuthError as exc:
            raise NotAuthorizedException(f"Unauthenticated: {exc}.") from exc
        return AuthenticationResult(user=principal, auth=token)


def allow(*roles: str) -> Any:
    """Guard: the caller must hold one of ``roles``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, Principal) or not user.has(*roles):
            raise PermissionDeniedException(f"This needs one of the roles: {', '.join(roles)}.")

    guard.lms_roles = roles  # type: ignore[attr-defined]
    return guard


def declared_roles(handler: BaseRouteHandler) -> tuple[str, ...] | None:
    """The roles a route allows, ``()`` for a public route, None if it declares nothing."""
    if handler.opt.get("public"):
        return ()
    for layer in handler.ownership_layers:
        for guard in getattr(layer, "guards", None) or []:
            if hasattr(guard, "lms_roles"):
                return tuple(guard.lms_roles)
    return None


def check_declared(handlers: list[BaseRouteHandler]) -> None:
    missing = [
        f"{sorted(h.http_methods)} {h.paths}"  # type: ignore[attr-defined]
        for h in handlers
        if declared_roles(h) is None and getattr(h, "http_methods", None) != {"OPTIONS"}
    ]
    if missing:
        raise RuntimeError(f"routes without opt public or an allow() guard: {missing}")


# --- development keys and token minting -------------------------------------------------


def ensure_dev_keys(folder: Path) -> tuple[Path, Path]:
    """Create an Ed25519 signing key and its public JWKS in ``folder`` once; return both paths."""
    private_path, jwks_path = folder / "dev-private.jwk.json", folder / "jwks.json"
    if private_path.exists() and jwks_path.exists():
        return private_path, jwks_path
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = json.loads(OKPAlgorithm.to_jwk(key))
    private.update(kid=f"dev-{uuid.uuid4().hex[:12]}", alg="EdDSA", use="sig")
    public = {k: v for k, v in private.items() if k != "d"}
    tmp = private_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(private))
    os.chmod(tmp, 0o600)
    tmp.replace(private_path)
    jwks_path.write_text(json.dumps({"keys": [public]}, indent=2))
    return private_path, jwks_path


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
