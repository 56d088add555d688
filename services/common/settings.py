"""Settings as plain dataclasses read from environment variables.

A field ``port`` of the placement service is read from ``LMS_PLACEMENT_PORT``, then from
``LMS_PORT``, then falls back to its default. Lists are comma-separated.
"""

from __future__ import annotations

import dataclasses
import os
import types
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import unquote, urlsplit

SERVICES: dict[str, int] = {"placement": 8001, "progress": 8002, "certification": 8003}


def data_dir() -> Path:
    """Local state (dev keys, embedded PostgreSQL) lives here; ``LMS_DATA_DIR`` overrides."""
    return Path(os.environ.get("LMS_DATA_DIR") or Path.cwd() / ".lms").resolve()


def peer_url(service: str) -> str:
    default = f"http://127.0.0.1:{os.environ.get(f'LMS_{service.upper()}_PORT', SERVICES[service])}"
    return os.environ.get(f"LMS_{service.upper()}_URL", default).rstrip("/")


@dataclasses.dataclass
class ServiceSettings:
    """What every service reads. Services subclass this and add their own fields."""

    service: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = ""
    db_pool_size: int = 20  # steady connections; bursts above it open (and close) overflow ones
    db_max_overflow: int = 10
    # asyncpg pool connections opened at start-up and kept open (at most the pool's size): a burst
    # then finds them ready instead of connecting while the machine is busiest
    db_pool_min_size: int = 1
    # Database unavailability answers 503 quickly instead of hanging: waiting for a pooled
    # connection, connecting, and any one statement are bounded (seconds; statement 0 = unbounded).
    db_acquire_timeout_seconds: float = 10.0
    db_connect_timeout_seconds: float = 5.0
    db_statement_timeout_seconds: float = 30.0
    cors_origins: tuple[str, ...] = ("http://localhost:3000", "http://localhost:5173")
    jwks: str = ""
    jwt_issuer: str = "lms-dev"
    jwt_audience: str = "lms"
    service_key_file: str = ""  # this service's own private key (kid svc-<service>-...): signs its service tokens
    service_jwks: str = ""  # key set of every service's public key: tokens they sign may only be service tokens
    public_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = 2_000_000
    max_header_bytes: int = 16_384  # all request headers together; larger gets 431
    max_json_depth: int = 64  # deeper JSON bodies get 400 before any handler parses them
    trusted_proxies: tuple[str, ...] = ()  # addresses/CIDRs whose X-Forwarded-For names the client
    failed_auth_limit: int = 30  # 401s per minute per client address before it gets 429; 0 = off
    public_rate_limit: int = 300  # requests per minute per client address to public or token-less routes; 0 = off
    relay_enabled: bool = True
    relay_poll_seconds: float = 1.0
    relay_batch: int = 50
    relay_backoff_base: float = 1.0
    relay_backoff_cap: float = 300.0
    peer_timeout_seconds: float = 5.0

    def local_development(self) -> bool:
        """Development keys (no configured key set) and a database on this machine (the embedded
        server's socket, a loopback address, or none configured yet): the one setting where
        development secrets are acceptable."""
        if Path(self.jwks) != data_dir() / "keys" / "jwks.json":
            return False
        if not self.database_url:
            return True
        url = urlsplit(self.database_url)
        if not url.hostname:
            return "host=/" in unquote(url.query)  # a Unix socket
        return url.hostname in ("localhost", "127.0.0.1", "::1")

    def __post_init__(self) -> None:
        if not self.port and self.service in SERVICES:
            self.port = SERVICES[self.service]
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        if not self.jwks:
            self.jwks = str(data_dir() / "keys" / "jwks.json")
        if not self.service_key_file:
            self.service_key_file = str(data_dir() / "keys" / f"service-{self.service}.jwk.json")
        if not self.service_jwks:
            self.service_jwks = str(data_dir() / "keys" / "services-jwks.json")


S = TypeVar("S", bound=ServiceSettings)


def _parse(raw: str, kind: Any) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(kind) if a is not type(None)]
        return None if raw == "" else _parse(raw, inner[0])
    if origin is tuple:
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if kind is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind in (int, float, str, Path):
        return kind(raw)
    raise TypeError(f"unsupported settings type {kind}")


def load_settings(cls: type[S], service: str, **overrides: Any) -> S:
    """Build ``cls`` for ``service`` from the environment; ``overrides`` win over both."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {"service": service}
    for field in dataclasses.fields(cls):
        if field.name == "service":
            continue
        for var in (f"LMS_{service.upper()}_{field.name.upper()}", f"LMS_{field.name.upper()}"):
            raw = os.environ.get(var)
            if raw is not None:
                try:
                    values[field.name] = _parse(raw, hints[field.name])
                except (TypeError, ValueError) as exc:
                    raise SystemExit(f"Invalid value for {var}: {exc}") from exc
                break
    values.update(overrides)
    return cls(**values)
