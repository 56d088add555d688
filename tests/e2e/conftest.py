from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.stack import SERVICES, Stack, provision
from tests.support import Keys


@pytest.fixture
async def stack(pg_admin: str, keys: Keys, tmp_path: Path) -> AsyncIterator[Stack]:
    """The three services as real processes on fresh, seeded databases."""
    stack = await provision(pg_admin, keys, tmp_path)
    try:
        for service in SERVICES:
            stack.start(service)
        yield stack
    finally:
        stack.stop_all()
