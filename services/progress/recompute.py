"""The recompute worker: after a curriculum is published, re-evaluate every official against it
in chunks. Safe in any number of replicas: a chunk is done inside a transaction that holds the
job row (``FOR UPDATE SKIP LOCKED``) and moves its keyset cursor, so no chunk is done twice and a
crash only repeats the chunk that was in flight (re-evaluation is idempotent)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from services.common.worker import PollingWorker
from services.progress import engine
from services.progress.db import connect


async def run_once(app: Litestar) -> bool:
    """Work one chunk of the oldest pending job; False when there is nothing to do."""
    completed: list[Any] = []
    async with connect(app) as conn:
        job = await conn.fetchrow(
            "SELECT id, curriculum_id, after_official FROM recompute_job WHERE status = 'pending' "
            "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        if job is None:
            return False
        published = await conn.fetchval("SELECT id FROM curriculum_version WHERE status = 'published'")
        if published != job["curriculum_id"]:
            await conn.execute(
                "UPDATE recompute_job SET status = 'done', finished_at = now(), updated_at = now(), "
                "note = 'superseded: another version was published' WHERE id = $1",
                job["id"],
            )
            return True
        curriculum = await engine.by_id(conn, job["curriculum_id"])
        assert curriculum is not None
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM official WHERE id > $1 ORDER BY id LIMIT $2",
                job["after_official"],
                app.state.settings.recompute_chunk,
            )
        ]
        if not ids:
            await conn.execute(
                "UPDATE recompute_job SET status = 'done', finished_at = now(), updated_at = now() WHERE id = $1",
                job["id"],
            )
            return True
        outcome = await engine.advance(conn, curriculum, ids, review=True)
        completed = outcome.completed
        await conn.execute(
            "UPDATE recompute_job SET after_official = $2, officials = officials + $3, "
            "levels_completed = levels_completed + $4, flagged = flagged + $5, updated_at = now() WHERE id = $1",
            job["id"],
            ids[-1],
            outcome.officials,
            len(completed),
            outcome.flagged,
        )
    if completed and app.state.relay is not None:
        app.state.relay.wake()
    return True


class RecomputeWorker(PollingWorker):
    """Works pending jobs chunk by chunk (the loop is the kernel's :class:`PollingWorker`)."""

    def __init__(self, app: Litestar) -> None:
        super().__init__("recompute_worker", poll_seconds=app.state.settings.recompute_poll_seconds)
        self.app = app

    async def run_once(self) -> int:
        return int(await run_once(self.app))


def worker(app: Litestar) -> RecomputeWorker | None:
    """The worker for ``ServiceSpec.workers`` (None when ``recompute_worker`` is off)."""
    app.state.recompute = RecomputeWorker(app) if app.state.settings.recompute_worker else None
    return app.state.recompute


def wake(app: Litestar) -> None:
    running = getattr(app.state, "recompute", None)
    if running is not None:
        running.wake()
