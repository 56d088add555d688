"""The ``lms`` command: run the system locally, migrate, mint tokens, and service tools.

lms up                 embedded database, migrations, demo data, the three services
lms serve SERVICE      one service in the foreground (what `up` starts per service)
lms migrate [SERVICE]  alembic upgrade head for one or all services
lms token --role ROLE  print a signed development token
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

import click

from services.common.settings import SERVICES, data_dir

SERVICE_CHOICE = click.Choice(list(SERVICES))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Learning-management platform for public officials: placement, progress and certification."""


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
    """Print a development bearer token signed with the local key (created on first use)."""
    import uuid

    from services.common.auth import ensure_dev_keys, load_private_jwk, mint_token
    from services.common.settings import ServiceSettings

    settings = ServiceSettings()
    key_file, _ = ensure_dev_keys(data_dir() / "keys")
    click.echo(
        mint_token(
            load_private_jwk(os.environ.get("LMS_SERVICE_KEY_FILE") or key_file),
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
@click.argument("service", type=SERVICE_CHOICE)
@click.option("--host", default=None, help="Bind address (default LMS_<SERVICE>_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LMS_<SERVICE>_PORT or its standard port).")
def serve(service: str, host: str | None, port: int | None) -> None:
    """Run one service in the foreground with uvicorn."""
    import uvicorn

    from services.common.auth import ensure_dev_keys

    settings = _settings(service)
    if not os.environ.get("LMS_JWKS"):
        ensure_dev_keys(data_dir() / "keys")
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(settings)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=False,  # the app believes X-Forwarded-For only from LMS_TRUSTED_PROXIES
        access_log=False,
        timeout_graceful_shutdown=10,
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


@main.command()
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load demo data (item bank, curriculum).")
@click.option("--host", default="127.0.0.1", show_default=True)
def up(demo: bool, host: str) -> None:
    """Start everything locally: database, migrations, demo data and the three services.

    Ports come from LMS_PLACEMENT_PORT, LMS_PROGRESS_PORT, LMS_CERTIFICATION_PORT (8001-8003).
    Ctrl-C stops everything; if a service dies, `up` says which and exits non-zero."""
    from rich.console import Console

    from services.common import migrations
    from services.common.auth import ensure_dev_keys
    from services.common.settings import peer_url

    console = Console()
    if not os.environ.get("LMS_JWKS"):
        ensure_dev_keys(data_dir() / "keys")
    env = dict(os.environ)
    with console.status("Starting the database and applying migrations ..."):
        for service in SERVICES:
            url = _database_url(service)
            env[f"LMS_{service.upper()}_DATABASE_URL"] = url
            migrations.upgrade(service, url)
            if demo:
                note = _seed(service, url)
                if note:
                    console.print(f"[dim]{service}: {note}[/dim]")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for service in SERVICES:
        env[f"LMS_{service.upper()}_HOST"] = host
        procs[service] = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", service], env=env)
    urls = {s: peer_url(s) for s in SERVICES}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        _wait_ready(urls, procs, timeout=60)
        for service, url in urls.items():
            console.print(f"[bold green]{service:<14}[/] {url}   docs: {url}/docs")
        console.print("Tokens: `lms token --role admin`. Press Ctrl-C to stop.")
        while not stopping:
            for service, proc in procs.items():
                if proc.poll() is not None:
                    console.print(f"[bold red]{service} died with exit code {proc.returncode}[/]")
                    code = 1
                    stopping = True
            time.sleep(0.3)
    except click.ClickException as exc:
        console.print(f"[bold red]{exc.message}[/]")
        code = 1
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        console.print("stopped")
    sys.exit(code)


@main.command()
@click.option("--officials", default=30, show_default=True, type=click.IntRange(5, 500))
@click.option("--seed", default=7, show_default=True, help="Random seed for abilities and answers.")
def demo(officials: int, seed: int) -> None:
    """Drive the whole journey over HTTP against a running `lms up`: diagnostics, placement,
    cohorts and waitlists, attendance, learning events, certificates, the HR feed and webhooks,
    verification, and a revocation. Prints a summary."""
    from rich.console import Console

    from services.common.auth import ensure_dev_keys, load_private_jwk, mint_token
    from services.common.settings import ServiceSettings, peer_url
    from services.demo import DemoError, print_summary, run_journey

    settings = ServiceSettings()
    key_file = os.environ.get("LMS_SERVICE_KEY_FILE") or str(ensure_dev_keys(data_dir() / "keys")[0])
    private = load_private_jwk(key_file)

    def mint(role: str, sub: str = "", name: str = "", org: str = "") -> str:
        issuer = os.environ.get("LMS_JWT_ISSUER", settings.jwt_issuer)
        audience = os.environ.get("LMS_JWT_AUDIENCE", settings.jwt_audience)
        return mint_token(private, sub=sub or role, roles=[role], issuer=issuer, audience=audience, name=name, org=org)

    console = Console()
    bases = {service: peer_url(service) for service in SERVICES}
    try:
        summary = asyncio.run(run_journey(bases, mint, officials=officials, seed=seed, console=console))
    except (DemoError, OSError) as exc:
        raise click.ClickException(f"{exc} (is `lms up` running?)") from exc
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
