"""How a service is served: uvicorn (uvloop, httptools), one process or ``workers`` processes
sharing the port, each building its own app (own pools, own relay: the relay's leases make
several relays safe).

uvicorn stays the server: an earlier same-run comparison on this code found granian no faster for
Litestar here, so the extra dependency bought nothing.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn


def workers_setting(value: int | None) -> int:
    """``--workers``, else ``LMS_WORKERS``, else 1."""
    if value is not None:
        return max(1, value)
    raw = os.environ.get("LMS_WORKERS", "1")
    try:
        return max(1, int(raw))
    except ValueError as exc:
        raise SystemExit(f"Invalid value for LMS_WORKERS: {raw!r} is not a number") from exc


def run(app: Any, factory: str, *, host: str, port: int, workers: int = 1) -> None:
    """Serve ``app`` in this process, or, with several ``workers``, the app that ``factory``
    (``module:function``, called with no arguments) builds in each worker process."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "proxy_headers": False,  # the app believes X-Forwarded-For only from LMS_TRUSTED_PROXIES
        "access_log": False,  # the kernel's front middleware writes the access log
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        uvicorn.run(factory, factory=True, workers=workers, **options)
    else:
        uvicorn.run(app, **options)
