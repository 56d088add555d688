"""The polling-worker base: runs again at once while batches come back full, sleeps until woken or
the idle poll, backs off while rounds fail and recovers, stops cleanly."""

from __future__ import annotations

import asyncio

from services.common.worker import PollingWorker


class Scripted(PollingWorker):
    """Returns (or raises) the scripted outcomes in order, then 0 forever; records each round."""

    def __init__(self, outcomes: list[int | Exception], **kw: float) -> None:
        super().__init__("scripted", batch=3, **kw)  # type: ignore[arg-type]
        self.outcomes, self.rounds = outcomes, 0
        self.ran = asyncio.Event()

    async def run_once(self) -> int:
        self.rounds += 1
        self.ran.set()
        outcome = self.outcomes.pop(0) if self.outcomes else 0
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def wait_rounds(worker: Scripted, rounds: int) -> None:
    while worker.rounds < rounds:
        worker.ran.clear()
        await asyncio.wait_for(worker.ran.wait(), timeout=10)


async def test_full_batches_run_again_without_waiting_for_the_poll() -> None:
    worker = Scripted([3, 3, 1], poll_seconds=3600)
    worker.start()
    try:
        await wait_rounds(worker, 3)  # two full batches, then a partial one: no poll wait between
        await asyncio.sleep(0.05)
        assert worker.rounds == 3  # now idle until a wake or the (hour-long) poll
    finally:
        await worker.stop()


async def test_wake_starts_a_round_now() -> None:
    worker = Scripted([], poll_seconds=3600)
    worker.start()
    try:
        await wait_rounds(worker, 1)
        worker.wake()
        await wait_rounds(worker, 2)
        worker.wake()
        await wait_rounds(worker, 3)
    finally:
        await worker.stop()


async def test_idle_poll_runs_rounds_without_a_wake() -> None:
    worker = Scripted([], poll_seconds=0.01)
    worker.start()
    try:
        await wait_rounds(worker, 4)
    finally:
        await worker.stop()


async def test_errors_back_off_and_never_kill_the_worker() -> None:
    worker = Scripted([RuntimeError("db down"), RuntimeError("db down"), 1], poll_seconds=0.01, error_backoff_cap=0.02)
    assert worker.idle_seconds() == 0.01
    worker.start()
    try:
        await wait_rounds(worker, 4)  # two failures, then it carries on
        assert worker.errors == 0
    finally:
        await worker.stop()


def test_backoff_doubles_from_the_poll_up_to_the_cap() -> None:
    worker = Scripted([], poll_seconds=1.0, error_backoff_cap=5.0)
    waits = []
    for errors in range(6):
        worker.errors = errors
        waits.append(worker.idle_seconds())
    assert waits == [1.0, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert Scripted([], poll_seconds=10.0, error_backoff_cap=5.0).error_backoff_cap == 10.0  # never below the poll


async def test_stop_cancels_a_sleeping_worker_and_may_be_repeated() -> None:
    worker = Scripted([], poll_seconds=3600)
    await worker.stop()  # never started: nothing to do
    worker.start()
    await wait_rounds(worker, 1)
    await worker.stop()
    await worker.stop()
