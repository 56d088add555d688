"""HTTP controllers of the placement service (HTTP only: parse, authorise, call one store
function, map to schemas). ``ROUTES`` is what the app registers."""

from services.placement.api.admin import AdminController
from services.placement.api.calibrations import CalibrationController
from services.placement.api.domains import DomainController
from services.placement.api.items import ItemController
from services.placement.api.results import ResultController
from services.placement.api.sessions import SessionController
from services.placement.api.versions import VersionController

ROUTES = [
    DomainController,
    ItemController,
    VersionController,
    SessionController,
    ResultController,
    AdminController,
    CalibrationController,
]
