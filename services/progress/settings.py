"""Progress settings: the kernel's, read from LMS_PROGRESS_* then LMS_* variables."""

from __future__ import annotations

import dataclasses

from services.common.settings import ServiceSettings, load_settings


@dataclasses.dataclass
class Settings(ServiceSettings):
    # xAPI: statements whose object id starts with this prefix drive module progress
    # (the rest of the id is the module code); account actors' ``name`` is the official id.
    xapi_activity_prefix: str = "urn:lms:module:"
    xapi_account_homepage: str = "https://lms.example.go.kr"  # the stored statements' authority
    xapi_max_limit: int = 500
    # HTTP Basic on /xapi for one xAPI client with the service role (e.g. a conformance suite or
    # a content proxy); off unless both are set.
    xapi_basic_user: str = ""
    xapi_basic_password: str = ""
    # The X-Experience-API-Version answered to a request that names no version we speak.
    xapi_unversioned_answer: str = "2.0.0"
    # Re-evaluation after a publish: officials per transaction, whether this replica runs the
    # worker, and how often it looks for work when not woken.
    recompute_chunk: int = 500
    recompute_worker: bool = True
    recompute_poll_seconds: float = 5.0


def get_settings(**overrides: object) -> Settings:
    return load_settings(Settings, "progress", **overrides)
