"""Kept for the xAPI module only, which still imports ``engine.content_hash`` and
``engine.published``: the service layer lives in ``store/`` and the rules in ``domain/``."""

from __future__ import annotations

from services.progress.domain.events import content_hash
from services.progress.store.curricula import published

__all__ = ["content_hash", "published"]
