"""The edge's body check (nesting depth, NUL and surrogate escapes) on a batch of learning events,
beside decoding the same body with msgspec and with the standard json module, in the same run.

    .venv/bin/python bench/bench_kernel_edge.py [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from services.common.edge import check_json


def per_call(fn: Callable[[], object], rounds: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - started) / rounds * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    batch = {
        "events": [
            {
                "id": f"event-{i}",
                "official_id": f"official-{i}",
                "module": "L1-M3",
                "verb": "passed",
                "occurred_at": "2026-11-01T09:00:00Z",
                "score": 90.5,
            }
            for i in range(args.events)
        ]
    }
    body = json.dumps(batch).encode()
    print(f"body: {len(body)} bytes, {args.events} events, {args.rounds} rounds")
    for name, fn in (
        ("edge check_json", lambda: check_json(body, 64)),
        ("ceiling: msgspec.json.decode", lambda: msgspec.json.decode(body)),
        ("ceiling: json.loads", lambda: json.loads(body)),
    ):
        print(f"{name:32s} {per_call(fn, args.rounds):8.2f} ms per body")


if __name__ == "__main__":
    main()
