"""Placement settings: the kernel's, read from LMS_PLACEMENT_* then LMS_* variables."""

from __future__ import annotations

import dataclasses

from services.common.settings import ServiceSettings, load_settings


@dataclasses.dataclass
class Settings(ServiceSettings):
    pass


def get_settings(**overrides: object) -> Settings:
    return load_settings(Settings, "placement", **overrides)
