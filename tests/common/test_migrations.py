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


OUTBOX_SHAPE = (
    "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default"
    " FROM information_schema.columns WHERE table_name = 'outbox' ORDER BY ordinal_position"
)


OUTBOX_INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'outbox'"


async def test_every_service_creates_the_same_outbox_table(pg_admin: str) -> None:
    """The first migration of each service is the kernel's ``create_outbox_table``: one schema."""
    import asyncpg

    from services.common.db import plain_url

    shapes = []
    for service, first in {"placement": "pl0001", "progress": "pr0001", "certification": "ce0001"}.items():
        url = await create_database(pg_admin, service, migrate=False)
        await asyncio.to_thread(migrations.upgrade, service, url, first)
        conn = await asyncpg.connect(plain_url(url))
        try:
            columns = [tuple(r) for r in await conn.fetch(OUTBOX_SHAPE)]
            indexes = sorted(
                tuple(r)
                for r in await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'outbox'")
            )
            tables = {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        finally:
            await conn.close()
        assert tables == {"outbox", f"alembic_version_{service}"}
        shapes.append((columns, indexes))
    assert len(columns) == 13 and [i[0] for i in indexes] == ["ix_outbox_due", "pk_outbox", "uq_outbox_message_id"]
    assert shapes[0] == shapes[1] == shapes[2]
