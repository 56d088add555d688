"""The diagnostic's rules as this deployment runs them, for the pages that explain it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from services.common.auth import allow
from services.placement.schemas import RulesOut


class RulesController(Controller):
    path = "/v1/rules"
    tags = ["diagnostic"]
    opt = allow("learner", "instructor", "admin")

    @get("/")
    async def get_rules(self, request: Request[Any, Any, Any]) -> RulesOut:
        """Read the diagnostic's rules: its length, the resume window and the retake cooldown.

        ``min_items`` and ``max_items`` count scored items; up to ``pretest_max`` unscored trial items
        of new questions may come on top.

        A session keeps the rules it started with; these are the ones a new session gets."""
        s = request.app.state.settings
        return RulesOut(
            min_items=s.min_items,
            max_items=s.max_items,
            pretest_max=s.pretest_max if s.pretest_rate > 0 else 0,
            levels=len(s.cuts) + 1,
            session_idle_minutes=s.session_idle_minutes,
            retake_cooldown_days=s.retake_cooldown_days,
        )
