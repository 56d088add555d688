"""HTTP controllers of the placement service (HTTP only: parse, authorise, call one store
function, map to schemas). ``ROUTES`` is what the app registers."""

from services.placement.api.admin import AdminController
from services.placement.api.calibrations import CalibrationController
from services.placement.api.domains import DomainController
from services.placement.api.items import ItemController
from services.placement.api.results import ResultController
from services.placement.api.rules import RulesController
from services.placement.api.sessions import SessionController
from services.placement.api.versions import VersionController

ROUTES = [
    DomainController,
    ItemController,
    VersionController,
    SessionController,
    RulesController,
    ResultController,
    AdminController,
    CalibrationController,
]


def _summaries() -> None:
    """Each route's OpenAPI summary is the first line of its docstring (not the handler's name)."""
    from litestar.handlers import HTTPRouteHandler

    for controller in ROUTES:
        for handler in vars(controller).values():
            if isinstance(handler, HTTPRouteHandler) and not handler.summary and handler.fn.__doc__:
                handler.summary = handler.fn.__doc__.strip().splitlines()[0].rstrip(".")


_summaries()
