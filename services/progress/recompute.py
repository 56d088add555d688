"""The recompute worker: after a curriculum is published, re-evaluate every official against it
in chunks (``store/recompute.py`` works one chunk, safely in any number of replicas; the loop is
the kernel's :class:`PollingWorker`)."""

from __future__ import annotations

from litestar import Litestar

from services.common.worker import PollingWorker
from services.progress.store import recompute as jobs
from services.progress.store.base import Db


async def run_once(app: Litestar) -> bool:
    """Work one chunk of the oldest pending job; False when there is nothing to do."""
    return await jobs.run_once(Db(app), app.state.settings.recompute_chunk)


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
