"""Progress service app factory: `create_app(settings)`. Routes are listed here."""

from __future__ import annotations

from litestar import Litestar

from services.common.app import ServiceSpec, build_app
from services.progress import recompute
from services.progress.api.attendance import AttendanceController
from services.progress.api.curriculum import CurriculumController, recompute_job
from services.progress.api.dashboard import my_path, official_path
from services.progress.api.errors import CONSTRAINTS
from services.progress.api.events import AdminOfficialController, EventController, reviews
from services.progress.api.intake import receive_placement
from services.progress.api.reports import ReportController
from services.progress.api.sessions import EnrolmentController, SessionController
from services.progress.api.xapi import XapiController
from services.progress.models import Outbox
from services.progress.relay import certificate_sender
from services.progress.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    spec = ServiceSpec(
        title="LMS progress service",
        description="Learning paths, cohort sessions with seats and waitlists, attendance and learning events.",
        route_handlers=[
            CurriculumController,
            recompute_job,
            receive_placement,
            SessionController,
            EnrolmentController,
            AttendanceController,
            EventController,
            AdminOfficialController,
            reviews,
            my_path,
            official_path,
            ReportController,
            XapiController,
        ],
        constraint_problems=CONSTRAINTS,
        outbox=Outbox,
        peers=("certification",),
        relay_sender=certificate_sender,
        asyncpg_pool=lambda s: s.db_pool_size + s.db_max_overflow,
        workers=[recompute.worker],
    )
    return build_app(settings, spec)
