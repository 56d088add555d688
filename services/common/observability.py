"""JSON logs, request ids, Prometheus metrics and health endpoints."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import structlog
from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.prometheus import PrometheusController

from services.common.auth import allow
from services.common.responses import JSONBytes

CLIENT_CLOSED = 499
request_id_var: ContextVar[str] = ContextVar("request_id", default="")
log = structlog.get_logger()


def add_request_id(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current request's id (:data:`request_id_var`) on every line logged
    while serving it, without binding anything per request."""
    rid = request_id_var.get()
    if rid and "request_id" not in event:
        event["request_id"] = rid
    return event


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """structlog renders one JSON object per line; stdlib loggers (uvicorn, alembic) go through it."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs each request


def access_log_wanted(level: str) -> bool:
    """Access lines (one per request, level info) are written when INFO is logged."""
    return bool(logging.getLevelName(level.upper()) <= logging.INFO)


async def _refresh_before_metrics(request: Request[Any, Any, Any]) -> None:
    """Gauges that are counted from the database (e.g. stuck outbox messages) are refreshed on a scrape."""
    refresh = getattr(request.app.state, "before_metrics", None)
    if refresh is not None:
        try:
            await refresh(request.app.state.engine)
        except Exception as exc:  # the database being down must not hide the other metrics
            log.warning("metrics_refresh_failed", error=str(exc)[:200])


def metrics_controller() -> type[PrometheusController]:
    """The ``/metrics`` route; the request metrics themselves are counted by the front middleware."""

    class Metrics(PrometheusController):
        """Prometheus metrics, for a scraper holding an ``admin`` or ``service`` token (never public)."""

        path = "/metrics"
        opt = allow("admin", "service")
        include_in_schema = False

        before_request = _refresh_before_metrics  # type: ignore[assignment]

    return Metrics


ReadyCheck = Callable[[], Awaitable[str | None]]


_LIVE = JSONBytes(b'{"status":"ok"}')


def health_controller(ready_check: ReadyCheck) -> type[Controller]:
    """``/health/live`` answers while the process runs; ``/health/ready`` runs ``ready_check``,
    which returns None when ready or a sentence saying why not."""
    from services.common.errors import Problem

    class Health(Controller):
        path = "/health"
        opt = {"public": True}
        tags = ["health"]

        @get(
            "/live",
            summary="Liveness: the process is up",
            responses={
                200: ResponseSpec(data_container=dict[str, str], description="Request fulfilled, document follows")
            },
        )
        async def live(self) -> JSONBytes:
            return _LIVE  # probed often: the answer is encoded once

        @get("/ready", summary="Readiness: database reachable and schema at head")
        async def ready(self) -> dict[str, str]:
            reason = await ready_check()
            if reason:
                raise Problem(503, "not-ready", reason, title="Service not ready")
            return {"status": "ready"}

    return Health
