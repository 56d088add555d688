"""Embedded PostgreSQL for machines without a server.

Used only when a service has no ``LMS_<SERVICE>_DATABASE_URL``. Prefers the ``pgserver``
package (PostgreSQL binaries inside a wheel), then ``initdb``/``pg_ctl`` found on PATH.
The cluster lives under ``$LMS_DATA_DIR/postgres`` and listens on a Unix socket only.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from services.common.settings import data_dir

_servers: dict[Path, Any] = {}


class EmbeddedUnavailable(RuntimeError):
    pass


def _socket_dir(pgdata: Path) -> Path:
    # Unix socket paths are limited to ~100 bytes, so keep the socket in a short folder.
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"lms-pg-{digest}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _start_from_path(pgdata: Path) -> str:
    bindir = None
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        bindir = out.stdout.strip() or None
    initdb = shutil.which("initdb", path=bindir) or shutil.which("initdb")
    pg_ctl = shutil.which("pg_ctl", path=bindir) or shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        raise EmbeddedUnavailable("no PostgreSQL binaries (initdb, pg_ctl) on PATH")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        raise EmbeddedUnavailable("PostgreSQL binaries refuse to run as root")
    sock = _socket_dir(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [initdb, "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
    status = subprocess.run([pg_ctl, "status", "-D", str(pgdata)], capture_output=True, check=False)
    if status.returncode != 0:
        subprocess.run(
            [
                pg_ctl,
                "start",
                "-w",
                "-D",
                str(pgdata),
                "-l",
                str(pgdata / "server.log"),
                "-o",
                f"-h '' -k {sock}",
            ],
            check=True,
            capture_output=True,
        )
        atexit.register(subprocess.run, [pg_ctl, "stop", "-m", "fast", "-D", str(pgdata)], capture_output=True)
    return f"postgresql://postgres@/postgres?host={quote(str(sock))}"


def server_url(folder: str = "postgres") -> str:
    """Start (or join) the embedded cluster and return its admin URL (database ``postgres``)."""
    pgdata = (data_dir() / folder).resolve()
    if pgdata in _servers:
        return str(_servers[pgdata])
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    reasons = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
        url = server.get_uri()
        _servers[pgdata] = url
        _servers[pgdata.with_suffix(".handle")] = server  # keep the handle alive
        return str(url)
    except ImportError:
        reasons.append("the pgserver package is not installed")
    except Exception as exc:  # pgserver failed to start; try the PATH binaries
        reasons.append(f"pgserver failed: {exc}")
    try:
        url = _start_from_path(pgdata)
    except (EmbeddedUnavailable, subprocess.CalledProcessError) as exc:
        reasons.append(str(exc))
        raise EmbeddedUnavailable(
            "Cannot start an embedded PostgreSQL ("
            + "; ".join(reasons)
            + "). Set LMS_DATABASE_URL (or LMS_<SERVICE>_DATABASE_URL) to a PostgreSQL server."
        ) from exc
    _servers[pgdata] = url
    return url


def wait_ready(url: str, timeout: float = 30.0) -> None:
    import asyncio

    import asyncpg

    async def probe() -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(url)
                await conn.close()
                return
            except (OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    asyncio.run(probe())
