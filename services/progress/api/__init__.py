"""HTTP only: parse, authorise, call one ``store`` function, map the result to ``schemas``."""

from __future__ import annotations

from services.progress.api.attendance import AttendanceController
from services.progress.api.curricula import CurriculumController, recompute_job
from services.progress.api.dashboard import my_path, official_path
from services.progress.api.events import AdminOfficialController, EventController, reviews
from services.progress.api.intake import receive_placement
from services.progress.api.reports import ReportController
from services.progress.api.sessions import EnrolmentController, SessionController
from services.progress.api.xapi import ROUTES as XAPI_ROUTES

ROUTES = [
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
    *XAPI_ROUTES,
]
