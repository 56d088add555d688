"""The recompute worker loop: after a curriculum is published, re-evaluate every official
against it in chunks (``store/recompute.py`` works one chunk, safely in any number of replicas)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from litestar import Litestar

from services.progress.store import recompute as jobs
from services.progress.store.base import Db

log = structlog.get_logger()


async def run_once(app: Litestar) -> bool:
    """Work one chunk of the oldest pending job; False when there is nothing to do."""
    return await jobs.run_once(Db(app), app.state.settings.recompute_chunk)


async def run_forever(app: Litestar) -> None:
    wake: asyncio.Event = app.state.recompute_wake
    while True:
        try:
            while await run_once(app):
                pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database down: keep trying, never die
            log.warning("recompute_worker_error", error=str(exc)[:300])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=app.state.settings.recompute_poll_seconds)
        wake.clear()


async def start(app: Litestar) -> None:
    app.state.recompute_wake = asyncio.Event()
    app.state.recompute_task = None
    if app.state.settings.recompute_worker:
        app.state.recompute_task = asyncio.create_task(run_forever(app))


async def stop(app: Litestar) -> None:
    task = getattr(app.state, "recompute_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def wake(app: Litestar) -> None:
    event = getattr(app.state, "recompute_wake", None)
    if event is not None:
        event.set()
