"""The ``lms`` command: run the system locally, migrate, mint tokens, and service tools.

lms up                 embedded database, migrations, demo data, the three services
lms serve SERVICE      one service in the foreground (what `up` starts per service)
lms migrate [SERVICE]  alembic upgrade head for one or all services
lms token --role ROLE  print a signed development token
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from services.common.settings import SERVICES, data_dir

SERVICE_CHOICE = click.Choice(list(SERVICES))
WEB_PORT = 8000  # the web app (services/web): no database, started by `up` after the three services


CHECKOUT = Path(__file__).resolve().parent.parent


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Learning-management platform for public officials: placement, progress and certification."""
    # Run from a checkout, every command uses the checkout's .lms (keys, database) from any folder.
    if not os.environ.get("LMS_DATA_DIR") and (CHECKOUT / "pyproject.toml").exists():
        os.environ["LMS_DATA_DIR"] = str(CHECKOUT / ".lms")


def _lms_command() -> str:
    """How to type ``lms`` here: bare if it is on PATH, else its path relative to the current folder."""
    import shutil

    exe = Path(sys.executable).parent / "lms"
    if shutil.which("lms") and Path(shutil.which("lms") or "").resolve() == exe.resolve():
        return "lms"
    with contextlib.suppress(ValueError):
        return str(exe.relative_to(Path.cwd()))
    return str(exe)


def _private_key_file() -> Path:
    """The project's development signing key; never created here (``lms keys`` or ``lms up`` does)."""
    configured = os.environ.get("LMS_SERVICE_KEY_FILE")
    path = Path(configured) if configured else data_dir() / "keys" / "dev-private.jwk.json"
    if not path.exists():
        raise click.ClickException(
            f"no signing key at {path}: run `{_lms_command()} up` (or `{_lms_command()} keys`) first, "
            "or set LMS_SERVICE_KEY_FILE (and LMS_DATA_DIR) to the key the services trust."
        )
    return path


def _settings(service: str) -> Any:
    module = importlib.import_module(f"services.{service}.settings")
    return module.get_settings()


def _database_url(service: str) -> str:
    from services.common.db import resolve_database_url

    return resolve_database_url(service, _settings(service).database_url)


@main.command()
@click.argument("services", nargs=-1, type=SERVICE_CHOICE)
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=None,
    help="Do not migrate: wait up to this many seconds until the schema is at this release's head "
    "(an init container's gate while a migration job runs).",
)
def migrate(services: tuple[str, ...], wait_seconds: float | None) -> None:
    """Apply every migration (alembic upgrade head) to SERVICES, or to all three."""
    from services.common import migrations

    for service in services or tuple(SERVICES):
        url = _database_url(service)
        if wait_seconds is None:
            migrations.upgrade(service, url)
        else:
            heads = migrations.head_revisions(service)
            deadline = time.monotonic() + wait_seconds
            while (current := asyncio.run(_revision(service, url))) not in heads:
                if time.monotonic() > deadline:
                    raise click.ClickException(f"{service}: schema at {current}, not at head {sorted(heads)}")
                time.sleep(2)
        click.echo(f"{service}: schema at head")


async def _revision(service: str, url: str) -> str | None:
    from services.common.db import create_engine, schema_revision

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        return await schema_revision(engine, service)
    except Exception:
        return None
    finally:
        await engine.dispose()


@main.command()
def keys() -> None:
    """Create the development signing key, one signing key per service, and their key sets under
    LMS_DATA_DIR/keys (once) and print the paths."""
    from services.common.auth import ensure_dev_keys

    folder = data_dir() / "keys"
    private_file, jwks_file = ensure_dev_keys(folder)
    click.echo(f"private key: {private_file}\nkey set:     {jwks_file}")
    for service in SERVICES:
        click.echo(f"{service} service key: {folder / f'service-{service}.jwk.json'}")
    click.echo(f"service key set: {folder / 'services-jwks.json'}")


@main.command()
@click.option("--role", required=True, type=click.Choice(["learner", "instructor", "admin", "hr", "service"]))
@click.option("--sub", default=None, help="Subject (official id); a new UUID if omitted.")
@click.option("--name", default="", help="Display name claim.")
@click.option("--org", default="", help="Organisation unit code claim.")
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(1, 31 * 86400), help="Seconds.")
def token(role: str, sub: str | None, name: str, org: str, ttl: int) -> None:
    """Print a development bearer token signed with the project's key (LMS_DATA_DIR/keys, made by `lms up`)."""
    import uuid

    from services.common.auth import load_private_jwk, mint_token
    from services.common.settings import ServiceSettings

    settings = ServiceSettings()
    click.echo(
        mint_token(
            load_private_jwk(_private_key_file()),
            sub=sub or str(uuid.uuid4()),
            roles=[role],
            issuer=os.environ.get("LMS_JWT_ISSUER", settings.jwt_issuer),
            audience=os.environ.get("LMS_JWT_AUDIENCE", settings.jwt_audience),
            name=name,
            org=org,
            ttl=ttl,
        )
    )


@main.command()
@click.argument("service", type=click.Choice([*SERVICES, "web"]))
@click.option("--host", default=None, help="Bind address (default LMS_<SERVICE>_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LMS_<SERVICE>_PORT or its standard port).")
@click.option("--workers", default=None, type=int, help="Server processes sharing the port (default LMS_WORKERS or 1).")
def serve(service: str, host: str | None, port: int | None, workers: int | None) -> None:
    """Run one service in the foreground with uvicorn."""
    from services.common import server
    from services.common.auth import ensure_dev_keys

    settings = _settings(service)
    if not os.environ.get("LMS_JWKS"):
        ensure_dev_keys(data_dir() / "keys")
    count = server.workers_setting(workers)
    # with several workers each process builds its own app from the factory
    app = importlib.import_module(f"services.{service}.app").create_app(settings) if count == 1 else None
    server.run(
        app,
        f"services.{service}.app:create_app",
        host=host or settings.host,
        port=port or settings.port,
        workers=count,
    )


def _seed(service: str, url: str) -> str | None:
    """Run ``services.<service>.seed.seed(url)`` if the service has demo data."""
    try:
        module = importlib.import_module(f"services.{service}.seed")
    except ModuleNotFoundError:
        return None
    return str(asyncio.run(module.seed(url)) or "")


def _wait_ready(urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    import httpx

    pending = dict(urls)
    deadline = time.monotonic() + timeout
    while pending:
        for name, url in list(pending.items()):
            if procs[name].poll() is not None:
                raise click.ClickException(f"{name} exited with code {procs[name].returncode} while starting.")
            try:
                if httpx.get(f"{url}/health/ready", timeout=1.0).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise click.ClickException(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(0.2)


class _Stop(BaseException):
    """Ctrl-C or SIGTERM reached `lms up`: unwind from wherever it was, then stop in order."""


def _raise_stop(*_: object) -> NoReturn:
    raise _Stop


def _claim_pid_file(path: Path) -> None:
    """One `lms up` per data folder; a pid file a killed run left behind is taken over."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        pid = int(path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline")
        if pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 0)
                if cmdline.parent.parent.exists() and not any(
                    mark in cmdline.read_bytes() for mark in (b"lms", b"services.cli")
                ):
                    raise ProcessLookupError  # the pid now belongs to another program: the file is stale
                raise click.ClickException(f"`lms up` is already running (pid {pid}, pid file {path}); stop it first.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()))


def _check_ports(host: str) -> None:
    from services.common.settings import SERVICES

    for service, default in SERVICES.items():
        port = int(os.environ.get(f"LMS_{service.upper()}_PORT") or os.environ.get("LMS_PORT") or default)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise click.ClickException(
                    f"port {port} on {host} ({service}) is already in use ({exc.strerror}): stop what uses it, "
                    f"or choose another with LMS_{service.upper()}_PORT."
                ) from None


def _stop_services(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@main.command()
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo data (item bank, curriculum).")
@click.option("--host", default="127.0.0.1", show_default=True)
def up(demo: bool, host: str) -> None:
    """Start everything locally: database, migrations, demo data, the three services and the web app.

    Ports come from LMS_PLACEMENT_PORT, LMS_PROGRESS_PORT, LMS_CERTIFICATION_PORT (8001-8003).
    Ctrl-C (or SIGTERM) stops the services and the embedded database and exits 0; if a service
    dies, `up` says which and exits non-zero. Logs are human-readable unless LMS_LOG_JSON=true."""
    from rich.console import Console

    from services.common import embedded, migrations
    from services.common.auth import ensure_dev_keys
    from services.common.settings import peer_url

    console = Console()
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    pid_file = data_dir() / "up.pid"
    procs: dict[str, subprocess.Popen[bytes]] = {}
    code = 0
    try:
        _claim_pid_file(pid_file)
        _check_ports(host)
        if not os.environ.get("LMS_JWKS"):
            ensure_dev_keys(data_dir() / "keys")
        env = dict(os.environ)
        env.setdefault("LMS_LOG_JSON", "false")
        with console.status("Starting the database and applying migrations ..."):
            if not all(_settings(service).database_url for service in SERVICES):
                embedded.server_url(own=True)  # this run stops it, even one a killed run left behind
            for service in SERVICES:
                url = _database_url(service)
                env[f"LMS_{service.upper()}_DATABASE_URL"] = url
                migrations.upgrade(service, url)
                if demo:
                    note = _seed(service, url)
                    if note:
                        console.print(f"[dim]{service}: {note}[/dim]")
        for service in SERVICES:
            env[f"LMS_{service.upper()}_HOST"] = host
            # Their own session: a terminal's Ctrl-C reaches `up` alone, which stops them in order.
            procs[service] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", service], env=env, start_new_session=True
            )
        env["LMS_WEB_HOST"] = host
        procs["web"] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "web"], env=env, start_new_session=True
        )
        urls = {s: peer_url(s) for s in SERVICES}
        web_url = f"http://127.0.0.1:{os.environ.get('LMS_WEB_PORT') or WEB_PORT}"
        _wait_ready({**urls, "web": web_url}, procs, timeout=60)
        for service, url in urls.items():
            console.print(f"[bold green]{service:<14}[/] {url}   docs: {url}/docs")
        lms = _lms_command()
        console.print(f"A token: `{lms} token --role admin`; the whole journey: `{lms} demo`. Ctrl-C stops everything.")
        console.print(f"[bold]Open {web_url}[/]")
        while code == 0:
            for service, proc in procs.items():
                if proc.poll() is not None:
                    console.print(f"[bold red]{service} died with exit code {proc.returncode}[/]")
                    code = 1
            time.sleep(0.3)
    except _Stop:
        pass
    except click.ClickException as exc:
        console.print(f"[bold red]{exc.message}[/]")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not interrupt the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_services(procs)
        database = embedded.stop()
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(pid_file.read_text()) == os.getpid():
                pid_file.unlink()
        parts = ["services", *(["database"] if database else [])]
        console.print(f"Stopped ({' and '.join(parts)}).")
    sys.exit(code)


@main.command()
@click.option("--officials", default=30, show_default=True, type=click.IntRange(5, 500))
@click.option("--seed", default=7, show_default=True, help="Random seed for abilities and answers.")
def demo(officials: int, seed: int) -> None:
    """Drive the whole journey over HTTP against a running `lms up`: diagnostics, placement,
    cohorts and waitlists, attendance, learning events, certificates, the HR feed and webhooks,
    verification, and a revocation. Prints a summary."""
    from rich.console import Console

    from services.common.auth import load_private_jwk, mint_token
    from services.common.settings import ServiceSettings, peer_url
    from services.demo import DemoError, print_summary, run_journey

    settings = ServiceSettings()

    def mint(role: str, sub: str = "", name: str = "", org: str = "") -> str:
        issuer = os.environ.get("LMS_JWT_ISSUER", settings.jwt_issuer)
        audience = os.environ.get("LMS_JWT_AUDIENCE", settings.jwt_audience)
        return mint_token(private, sub=sub or role, roles=[role], issuer=issuer, audience=audience, name=name, org=org)

    import httpx

    console = Console()
    bases = {service: peer_url(service) for service in SERVICES}
    for service, base in bases.items():
        try:
            httpx.get(f"{base}/health/live", timeout=3)
        except httpx.HTTPError:
            raise click.ClickException(
                f"nothing answers at {base} ({service}): start the system first with `python3 dev.py up`."
            ) from None
    private = load_private_jwk(_private_key_file())
    try:
        summary = asyncio.run(run_journey(bases, mint, officials=officials, seed=seed, console=console))
    except (DemoError, OSError, httpx.HTTPError) as exc:
        raise click.ClickException(f"{exc} (is `lms up` still running?)") from None
    print_summary(summary, console)


def _register_service_commands() -> None:
    for service in SERVICES:
        try:
            module = importlib.import_module(f"services.{service}.cli")
        except ModuleNotFoundError:
            continue
        main.add_command(module.cli, name=service)


_register_service_commands()

if __name__ == "__main__":
    main()
