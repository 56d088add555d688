"""One polling-worker base for every background loop (the outbox relay, webhook deliveries,
recomputation jobs).

A subclass implements :meth:`PollingWorker.run_once`: claim a batch of due work (with
``FOR UPDATE SKIP LOCKED``, so any number of replicas may run it), do it, record the outcome, and
return how many it handled. The base owns the rest: the loop, running again at once while batches
come back full, sleeping until :meth:`wake` or the idle poll otherwise, backing off while
``run_once`` keeps failing (a database that is down), start/stop and logging. A worker never dies
of an error; it logs ``<name>_error`` and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

log = structlog.get_logger()


class PollingWorker:
    """Subclass, implement :meth:`run_once`, then ``start()`` it (or list a factory in
    ``ServiceSpec.workers`` so the app builder starts and stops it)."""

    def __init__(self, name: str, *, poll_seconds: float, batch: int = 1, error_backoff_cap: float = 5.0) -> None:
        self.name, self.poll_seconds, self.batch = name, poll_seconds, batch
        self.error_backoff_cap = max(error_backoff_cap, poll_seconds)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.errors = 0  # consecutive failed rounds

    async def run_once(self) -> int:
        """Handle one batch of due work; return how many items were handled (0: nothing due)."""
        raise NotImplementedError

    def wake(self) -> None:
        """Look for work now instead of at the next poll (call after committing new work)."""
        self._wake.set()

    def idle_seconds(self) -> float:
        """How long to sleep before the next round when no wake comes: the poll interval, or a
        backoff doubling from it (up to ``error_backoff_cap``) while rounds keep failing."""
        if not self.errors:
            return self.poll_seconds
        return min(self.error_backoff_cap, self.poll_seconds * 2 ** min(self.errors - 1, 30))

    async def step(self) -> bool:
        """One round: True when the batch came back full (there may be more due at once)."""
        self._wake.clear()  # a wake() from now on (even during the round) triggers the next one
        try:
            done = await self.run_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database down, peer misbehaving: keep trying, never die
            self.errors += 1
            log.warning(f"{self.name}_error", error=str(exc)[:300], retry_in=self.idle_seconds())
            return False
        self.errors = 0
        return done >= self.batch

    async def run_forever(self) -> None:
        while True:
            if await self.step():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_seconds())

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(), name=self.name.replace("_", "-"))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


__all__ = ["PollingWorker"]
