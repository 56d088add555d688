"""Settings of the web app, read from ``LMS_WEB_<FIELD>`` then ``LMS_<FIELD>`` (see the README table)."""

from __future__ import annotations

import dataclasses
from functools import lru_cache

from services.common.settings import ServiceSettings, load_settings, peer_url


@dataclasses.dataclass
class Settings(ServiceSettings):
    port: int = 8000
    # where the web app reaches the APIs (defaults: LMS_<SERVICE>_URL, else 127.0.0.1:800x)
    placement_url: str = ""
    progress_url: str = ""
    certification_url: str = ""
    # 32+ characters shared by every replica: encrypts and signs the session cookie and CSRF tokens.
    # Empty: a random secret per process (development; sessions end when the process restarts).
    session_secret: str = ""
    session_max_age: int = 8 * 3600
    cookie_secure: bool = True
    # The development identity provider's private key that development sign-in mints tokens with
    # (a service key can sign only service tokens); default LMS_DATA_DIR/keys/dev-private.jwk.json.
    dev_key_file: str = ""
    # OpenID Connect; with an issuer set, development sign-in is refused.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile"
    oidc_resource: str = ""  # RFC 8707 resource indicator asked for the API access token (e.g. the audience)
    oidc_redirect_url: str = ""  # default: public_url + /auth/callback
    claim_sub: str = "sub"
    claim_name: str = "name"
    claim_org: str = "org"
    claim_roles: str = "roles"
    dev_signin: bool = True  # offer development sign-in when no OIDC issuer is configured
    api_timeout_seconds: float = 5.0
    api_connections: int = 100  # kept-alive connections to each service, at most

    def __post_init__(self) -> None:
        super().__post_init__()
        self.placement_url = (self.placement_url or peer_url("placement")).rstrip("/")
        self.progress_url = (self.progress_url or peer_url("progress")).rstrip("/")
        self.certification_url = (self.certification_url or peer_url("certification")).rstrip("/")
        if not self.oidc_redirect_url:
            self.oidc_redirect_url = f"{self.public_url.rstrip('/')}/auth/callback"

    @property
    def dev_signin_enabled(self) -> bool:
        return self.dev_signin and not self.oidc_issuer


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings, "web")
