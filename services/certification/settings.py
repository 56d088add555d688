"""Certification settings: the kernel's, read from LMS_CERTIFICATION_* then LMS_* variables."""

from __future__ import annotations

import dataclasses

from services.common.settings import ServiceSettings, load_settings

# Local development only: set LMS_CERTIFICATION_KEY_PASSPHRASE in every real deployment.
DEV_KEY_PASSPHRASE = "dev-only-INSECURE-certification-key-passphrase"  # noqa: S105


@dataclasses.dataclass
class Settings(ServiceSettings):
    # A larger steady pool than the kernel default: connections opened above the pool size are
    # closed again on return (a new PostgreSQL backend per burst).
    db_pool_size: int = 20
    db_max_overflow: int = 10
    # A separate asyncpg pool for the hot public reads (verify, status-list versions): one round
    # trip per request, no ORM session or transaction.
    read_pool_size: int = 20
    serial_prefix: str = "LMS"
    issuer_name: str = "Public Officials Data & AI Academy"
    issuer_name_ko: str = "공무원 데이터·AI 아카데미"
    # The issuer's id (a URL that answers the issuer Profile); defaults to {public_url}/v1/issuer.
    issuer_url: str = ""
    # Which key signs new credentials and status lists: RS256 (the Open Badges 3.0 minimum) or
    # EdDSA. A key of each exists and both are published, so either verifies.
    signing_alg: str = "EdDSA"
    # Passphrase that encrypts the credential-signing private keys at rest (PKCS#8) and seals the
    # webhook secrets. The development value is refused outside local development.
    key_passphrase: str = DEV_KEY_PASSPHRASE
    # Seconds a signing key is cached before the newest key is looked up again (rotation pickup).
    key_cache_seconds: float = 10.0
    # A transaction that writes certificate changes and then stalls (idle in transaction, or one
    # statement) is ended by the server after this many seconds: the longest it can hold the HR
    # feed back. Transactions that write nothing to the feed never hold it back.
    feed_writer_timeout_seconds: float = 10.0
    # Certificate validity in days; 0 means certificates do not expire.
    validity_days: int = 0
    # Webhook delivery worker.
    webhooks_enabled: bool = True
    webhook_retry_horizon_seconds: float = 3 * 24 * 3600.0
    webhook_backoff_base: float = 5.0
    webhook_backoff_cap: float = 3600.0
    webhook_poll_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    webhook_batch: int = 50
    # Networks (CIDRs or addresses) webhooks may reach although they are private or loopback;
    # everything else must be a public address.
    webhook_allowed_networks: tuple[str, ...] = ()
    # Seconds a status list may be cached by clients (Cache-Control max-age).
    status_list_max_age: int = 60
    # Seconds a replica serves a cached status list before checking the database version counter
    # again (the replica that changes a list drops its own copy at once). 0 checks on every request.
    status_list_recheck_seconds: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        self.public_url = self.public_url.rstrip("/")
        if not self.issuer_url:
            self.issuer_url = f"{self.public_url}/v1/issuer"
        self.issuer_url = self.issuer_url.rstrip("/")
        if self.signing_alg not in ("EdDSA", "RS256"):
            raise ValueError(f"LMS_CERTIFICATION_SIGNING_ALG must be EdDSA or RS256, not {self.signing_alg!r}")


MIN_PASSPHRASE_CHARS = 16


def passphrase_problem(settings: Settings) -> str | None:
    """Why the key passphrase is unfit for this deployment, or None. The development value (or
    none) is accepted only in local development: development keys and a database on this machine."""
    local = settings.local_development()
    if local and settings.key_passphrase in ("", DEV_KEY_PASSPHRASE):
        return None
    if not settings.key_passphrase or settings.key_passphrase == DEV_KEY_PASSPHRASE:
        return (
            "LMS_CERTIFICATION_KEY_PASSPHRASE is missing or the development value outside local development"
            " (development keys and a database on this machine):"
            " set a secret passphrase of at least 16 characters (it encrypts the certificate-signing keys and"
            " webhook secrets; change it later with `lms certification rekey`)."
        )
    if len(settings.key_passphrase) < MIN_PASSPHRASE_CHARS:
        return f"LMS_CERTIFICATION_KEY_PASSPHRASE must have at least {MIN_PASSPHRASE_CHARS} characters."
    return None


def get_settings(**overrides: object) -> Settings:
    return load_settings(Settings, "certification", **overrides)
