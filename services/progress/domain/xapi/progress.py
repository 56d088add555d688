"""Which statements feed module progress: an official's account actor (on the configured home
page), a progress verb, and an activity id ``<prefix><module code>``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ADL = "http://adlnet.gov/expapi/verbs/"
PROGRESS_VERBS = {ADL + v: v for v in ("completed", "passed", "failed", "attended")}
TRUSTED_VERBS = frozenset({"passed", "failed", "attended"})


def official_of(actor: Any, home: str) -> str | None:
    """The official id when the actor is an account on our home page."""
    if not isinstance(actor, dict) or actor.get("objectType", "Agent") != "Agent":
        return None
    account = actor.get("account")
    if isinstance(account, dict) and account.get("homePage") == home and isinstance(account.get("name"), str):
        name = account["name"]
        return name if 0 < len(name) <= 128 else None
    return None


def score_of(statement: dict[str, Any]) -> float | None:
    """A 0-100 score from ``result.score`` (scaled first, else raw within min..max, else raw)."""
    result = statement.get("result")
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    if isinstance(score.get("scaled"), int | float):
        return max(0.0, min(100.0, float(score["scaled"]) * 100))
    raw, lo, hi = score.get("raw"), score.get("min"), score.get("max")
    if isinstance(raw, int | float):
        if isinstance(lo, int | float) and isinstance(hi, int | float) and hi > lo:
            return max(0.0, min(100.0, 100.0 * (raw - lo) / (hi - lo)))
        return max(0.0, min(100.0, float(raw)))
    return None


@dataclass(frozen=True)
class ProgressFact:
    official: str
    module: str
    verb: str
    occurred_at: datetime
    score: float | None


def progress_fact(
    statement: dict[str, Any], official: str | None, occurred_at: datetime, *, prefix: str, trusted: bool
) -> ProgressFact | None:
    """The learning event a statement stands for, or None. A learner's own token cannot assert
    passed, failed or attended (such statements are stored only)."""
    verb = PROGRESS_VERBS.get((statement.get("verb") or {}).get("id", ""))
    obj = statement.get("object") or {}
    if official is None or verb is None or obj.get("objectType", "Activity") != "Activity":
        return None
    if not str(obj.get("id", "")).startswith(prefix) or (verb in TRUSTED_VERBS and not trusted):
        return None
    score = score_of(statement) if verb in ("passed", "failed", "completed") else None
    return ProgressFact(official, str(obj["id"]).removeprefix(prefix), verb, occurred_at, score)
