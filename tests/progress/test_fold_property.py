"""The forward-only fold, property-tested end to end: random events posted through the real API
in random batches, orders and concurrency, with replays, give the same stored progress as the
pure fold (the oracle) applied to the distinct events in any order; so do rebuilding progress
from the stored events and voiding one of them."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from services.progress.domain.completion import FOLD, ModuleProgress, fold_event
from tests.progress.conftest import Service, sql

SERVICE = "progress"
MODULES = ["L0-M1", "L0-M2", "L0-M3", "L1-M1"]
VERBS = ["started", "completed", "passed", "failed", "attended"]
T0 = datetime(2026, 4, 1, tzinfo=UTC)


def random_events(rng: random.Random, official: str, n: int) -> list[dict[str, Any]]:
    """Events with clashing times and scores (few distinct values), so ties and order matter."""
    events = []
    for i in range(n):
        verb = rng.choice(VERBS)
        at = T0 + timedelta(hours=rng.randint(0, 12), microseconds=rng.choice([0, 1, 250_000]))
        e: dict[str, Any] = {
            "id": f"{official}-e{i}",
            "official_id": official,
            "module": rng.choice(MODULES),
            "verb": verb,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
        }
        if verb in ("passed", "failed", "completed") and rng.random() < 0.8:
            e["score"] = rng.choice([0.0, 12.5, 59.99, 60.0, 77.25, 100.0])
        events.append(e)
    return events


def oracle(events: list[dict[str, Any]]) -> dict[str, tuple[ModuleProgress, int]]:
    """The pure fold over the events (in a shuffled order: the fold must not care)."""
    out: dict[str, tuple[ModuleProgress | None, int]] = {}
    for e in random.Random(len(events)).sample(events, len(events)):
        current, count = out.get(e["module"], (None, 0))
        at = datetime.fromisoformat(e["occurred_at"])
        out[e["module"]] = (fold_event(current, e["verb"], at, e.get("score")), count + 1)
    return {m: (p, n) for m, (p, n) in out.items() if p is not None}


async def stored(database_url: str, official: str) -> dict[str, tuple[ModuleProgress, int]]:
    columns = ", ".join(f.name for f in FOLD)
    rows = await sql(
        database_url,
        f"SELECT module_code, {columns}, event_count FROM module_progress WHERE official_id = $1",
        official,
    )
    return {r["module_code"]: (ModuleProgress(**{f.name: r[f.name] for f in FOLD}), r["event_count"]) for r in rows}


def batches(rng: random.Random, events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The events in random order, cut into random batches, plus replays of random ones (an id
    appears at most once per batch; a replay goes in another batch)."""
    order = rng.sample(events, len(events))
    out, i = [], 0
    while i < len(order):
        size = rng.randint(1, 8)
        out.append(order[i : i + size])
        i += size
    for _ in range(rng.randint(1, 4)):
        out.append(rng.sample(events, rng.randint(1, min(5, len(events)))))
    rng.shuffle(out)
    return out


async def test_stored_progress_is_the_fold_for_any_order_batching_and_replay(svc: Service, database_url: str) -> None:
    await svc.publish()
    rng = random.Random(20261202)
    for round_no in range(12):
        official = f"fold-{round_no}"
        await svc.place(official, 0)
        events = random_events(rng, official, rng.randint(1, 40))
        parts = batches(rng, events)
        if round_no % 2:  # concurrent batches for the same official and modules
            answers = await asyncio.gather(*(svc.events(b) for b in parts))
        else:
            answers = [await svc.events(b) for b in parts]
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
        assert sum(a.json()["accepted"] for a in answers) == len(events)
        expected = oracle(events)
        assert await stored(database_url, official) == expected, f"round {round_no}"

        # rebuilding from the stored events (the other SQL fold) gives the same rows
        r = await svc.client.post(f"/v1/officials/{official}/recompute", headers=svc.admin)
        assert r.status_code == 200, r.text
        assert await stored(database_url, official) == expected, f"round {round_no} after recompute"

        # voiding an event folds the remaining ones
        voided = rng.choice(events)
        r = await svc.client.post(f"/v1/events/{voided['id']}/void", headers=svc.admin)
        assert r.status_code == 200, r.text
        remaining = [e for e in events if e["id"] != voided["id"]]
        assert await stored(database_url, official) == oracle(remaining), f"round {round_no} after void"
