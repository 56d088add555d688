"""Every service's migrations go up, down and up again, and match its models exactly."""

from __future__ import annotations

import asyncio

import pytest

from services.common import migrations
from services.common.settings import SERVICES
from tests.support import create_database


@pytest.mark.parametrize("service", list(SERVICES))
async def test_upgrade_downgrade_upgrade_and_check(pg_admin: str, service: str) -> None:
    url = await create_database(pg_admin, service, migrate=False)
    await asyncio.to_thread(migrations.upgrade, service, url)
    await asyncio.to_thread(migrations.downgrade, service, url)
    await asyncio.to_thread(migrations.upgrade, service, url)
    await asyncio.to_thread(migrations.check, service, url)  # raises on any drift
