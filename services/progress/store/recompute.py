"""One chunk of a recompute job (the re-evaluation of every official after a publish). Safe in
any number of replicas: a chunk is done inside a transaction that holds the job row (``FOR
UPDATE SKIP LOCKED``) and moves its keyset cursor, so no chunk is done twice and a crash only
repeats the chunk that was in flight (re-evaluation is idempotent)."""

from __future__ import annotations

from services.progress.store import curricula, progress
from services.progress.store.base import Db

CLAIM = """
SELECT id, curriculum_id, after_official FROM recompute_job WHERE status = 'pending'
ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
"""
SUPERSEDED = """
UPDATE recompute_job SET status = 'done', finished_at = now(), updated_at = now(),
       note = 'superseded: another version was published'
WHERE id = $1
"""
CHUNK = "SELECT id FROM official WHERE id > $1 ORDER BY id LIMIT $2"
FINISH = "UPDATE recompute_job SET status = 'done', finished_at = now(), updated_at = now() WHERE id = $1"
ADVANCE = """
UPDATE recompute_job SET after_official = $2, officials = officials + $3, levels_completed = levels_completed + $4,
       flagged = flagged + $5, updated_at = now()
WHERE id = $1
"""


async def run_once(db: Db, chunk: int) -> bool:
    """Work one chunk of the oldest pending job; False when there is nothing to do."""
    completed = []
    async with db.transaction() as conn:
        job = await conn.fetchrow(CLAIM)
        if job is None:
            return False
        curriculum = await curricula.published(conn)
        if curriculum is None or curriculum.id != job["curriculum_id"]:
            await conn.execute(SUPERSEDED, job["id"])
            return True
        ids = [r["id"] for r in await conn.fetch(CHUNK, job["after_official"], chunk)]
        if not ids:
            await conn.execute(FINISH, job["id"])
            return True
        outcome = await progress.evaluate(conn, curriculum, ids, review=True)
        completed = outcome.completed
        await conn.execute(ADVANCE, job["id"], ids[-1], outcome.officials, len(completed), outcome.flagged)
    db.wake_relay(completed)
    return True
