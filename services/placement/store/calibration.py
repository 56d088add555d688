"""Calibration runs: estimate item parameters from every recorded response (a draft), then
publish a draft as a new bank version."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import utcnow
from services.common.errors import Problem, not_found
from services.placement.domain.calibration import calibrate_cells, review
from services.placement.models import CalibrationRun, Item
from services.placement.store.bank import LIVE_ITEMS, active_c_prior, publish

ALL_RESPONSES = text("SELECT session_id, item_id, correct FROM response ORDER BY session_id")


def _by_key(key: str) -> object:
    return select(CalibrationRun).where(col(CalibrationRun.idempotency_key) == key)


async def run(
    session: AsyncSession,
    by: str,
    model: str,
    min_responses: int,
    max_iterations: int,
    key: str | None,
    c_prior: tuple[float, float] | None = None,
) -> tuple[CalibrationRun, bool]:
    """Calibrate on every response and store the draft. Returns (run, created); with an
    ``Idempotency-Key`` a retry (even a concurrent one) returns the first run. A 3PL run uses
    ``c_prior``, else the active version's prior on c, and records it."""
    if key is not None:
        earlier = (await session.execute(_by_key(key))).scalar_one_or_none()  # type: ignore[call-overload]
        if earlier is not None:
            return earlier, False
    items = list((await session.execute(LIVE_ITEMS)).scalars())
    rows = (await session.execute(ALL_RESPONSES)).all()
    index = {item.id: k for k, item in enumerate(items)}
    people: dict[uuid.UUID, int] = {}
    cells = [
        (people.setdefault(r.session_id, len(people)), index[r.item_id], r.correct) for r in rows if r.item_id in index
    ]
    if not cells:
        raise Problem(409, "no-responses", "No responses have been recorded yet; calibration needs answered sessions.")
    # the sparse response matrix as its answered cells (examinee, item, right?)
    person = np.fromiter((x[0] for x in cells), dtype=np.int64, count=len(cells))
    column = np.fromiter((x[1] for x in cells), dtype=np.int64, count=len(cells))
    right = np.fromiter((bool(x[2]) for x in cells), dtype=bool, count=len(cells))
    start = (np.array([i.a for i in items]), np.array([i.b for i in items]), np.array([i.c for i in items]))
    three = model == "3pl"
    if three and c_prior is None:
        c_prior = await active_c_prior(session)
    cal = await asyncio.to_thread(
        calibrate_cells,
        person,
        column,
        right,
        len(people),
        len(items),
        three,
        start,
        max_iterations,
        c_prior=c_prior,
    )
    report = review([(str(i.id), i.code, i.a, i.b, i.c) for i in items], cal, min_responses, three)
    draft = CalibrationRun(
        idempotency_key=key,
        model=model,
        created_by=by,
        responses=len(cells),
        examinees=len(people),
        iterations=cal.iterations,
        converged=cal.converged,
        items=report,
        c_prior_alpha=c_prior[0] if three and c_prior else None,
        c_prior_beta=c_prior[1] if three and c_prior else None,
    )
    session.add(draft)
    try:
        await session.commit()
    except IntegrityError:  # the same key, concurrently: answer with the run that won
        await session.rollback()
        assert key is not None
        return (await session.execute(_by_key(key))).scalar_one(), False  # type: ignore[call-overload]
    return draft, True


async def get(session: AsyncSession, run_id: uuid.UUID, lock: bool = False) -> CalibrationRun:
    found = await session.get(CalibrationRun, run_id, with_for_update=lock)
    if found is None:
        raise not_found("calibration run", run_id)
    return found


async def publish_run(session: AsyncSession, run_id: uuid.UUID, by: str) -> CalibrationRun:
    """Apply a draft's new parameters and publish them as a new bank version (pretest items
    graduate). Idempotent: a published run is returned unchanged."""
    draft = await get(session, run_id, lock=True)
    if draft.status == "draft":
        now = utcnow()
        for entry in draft.items:
            if entry["new"] is None:
                continue
            item = await session.get(Item, uuid.UUID(entry["item_id"]), with_for_update=True)
            if item is None or item.status == "retired":
                continue
            item.a, item.b, item.c = entry["new"]["a"], entry["new"]["b"], entry["new"]["c"]
            item.calibrated = True
            if item.status == "pretest":
                item.status = "active"
            item.updated_at = now
        await session.flush()
        version, _ = await publish(session, by, f"calibration {draft.id}")
        draft.status = "published"
        draft.published_version_id = version.id
        await session.commit()
    return draft
