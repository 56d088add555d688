"""Load the seed item bank and publish it as the active version (what `lms up` runs).

Idempotent: items are inserted by code only when missing, and a version is published only when
none is active, so a second run changes nothing. The seed parameters are provisional (not yet
calibrated) and every seed item says so (``calibrated: false``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from services.common.db import create_engine, session_factory, utcnow, uuid7
from services.placement.domain import bank as bank_rules
from services.placement.models import BankVersion, Item
from services.placement.store.bank import publish

SEED_FILE = Path(__file__).parent / "data" / "seed_bank.json"


def seed_rows(path: Path = SEED_FILE) -> list[dict[str, object]]:
    return bank_rules.validate_rows(bank_rules.parse_json(path.read_bytes()))


async def seed(database_url: str) -> str:
    rows = seed_rows()
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            now = utcnow()
            result = await session.execute(
                insert(Item)
                .values([{**row, "id": uuid7(), "created_at": now, "updated_at": now} for row in rows])
                .on_conflict_do_nothing(index_elements=["code"])
                .returning(col(Item.code))
            )
            added = len(result.all())
            active = (await session.execute(select(BankVersion).where(col(BankVersion.active)))).scalar_one_or_none()
            note = ""
            if active is None:
                version, _ = await publish(session, "seed", "seed bank (provisional parameters, not yet calibrated)")
                note = f"; published bank version {version.id} (provisional, not yet calibrated)"
            await session.commit()
            return f"seed bank: {added} of {len(rows)} items added{note or '; an active version already exists'}"
    finally:
        await engine.dispose()
