"""The learner dashboard ("my path") and the same view for admins."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.common.auth import Principal, allow
from services.progress.schemas import DashboardOut
from services.progress.store.base import Db
from services.progress.store.dashboard import dashboard


@get("/v1/me/path", opt=allow("learner"), tags=["dashboard"], summary="My learning path")
async def my_path(db: NamedDependency[Db], principal: NamedDependency[Principal]) -> DashboardOut:
    """Every level's status, the current level, percent complete, the next step, upcoming
    session days and certificates earned."""
    return await dashboard(db, principal.sub)


@get("/v1/officials/{official_id:str}/path", opt=allow("admin"), tags=["dashboard"], summary="An official's path")
async def official_path(db: NamedDependency[Db], official_id: FromPath[str]) -> DashboardOut:
    """The dashboard as the official sees it."""
    return await dashboard(db, official_id)
