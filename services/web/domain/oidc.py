"""OpenID Connect pieces with no I/O: PKCE, the authorization URL, and mapping claims to a person."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

ROLES = ("learner", "instructor", "admin")


@dataclass(frozen=True)
class Pending:
    """What the browser's session keeps between the redirect to the provider and the callback."""

    state: str
    nonce: str
    verifier: str
    next: str = "/"


def new_pending(next_path: str = "/") -> Pending:
    return Pending(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_path)


def challenge(verifier: str) -> str:
    """The S256 PKCE code challenge of ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    endpoint: str, *, client_id: str, redirect_uri: str, scope: str, pending: Pending, resource: str = ""
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": challenge(pending.verifier),
        "code_challenge_method": "S256",
    }
    if resource:
        params["resource"] = resource
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


@dataclass(frozen=True)
class ClaimNames:
    sub: str = "sub"
    name: str = "name"
    org: str = "org"
    roles: str = "roles"


@dataclass(frozen=True)
class Person:
    sub: str
    name: str
    org: str
    roles: list[str]


def person_from_claims(claims: dict[str, Any], names: ClaimNames) -> Person:
    """The person an ID token describes, under the configured claim names (roles: a list or a
    space-separated string; only the roles the web app knows are kept)."""
    raw_roles = claims.get(names.roles, [])
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split()
    roles = [r for r in raw_roles if isinstance(r, str) and r in ROLES] if isinstance(raw_roles, list) else []
    return Person(
        sub=str(claims.get(names.sub, "")),
        name=str(claims.get(names.name, ""))[:200],
        org=str(claims.get(names.org, ""))[:64],
        roles=roles,
    )
