"""`lms up`, `lms token` and `lms --help` as a user runs them: real processes, real ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support import create_database, free_port

LMS = [sys.executable, "-m", "services.cli"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def up_env(tmp_path: Path, pg_admin: str) -> tuple[dict[str, str], dict[str, int]]:
    """Environment for `lms up`: free ports and one fresh, unmigrated database per service."""
    ports = {"placement": free_port(), "progress": free_port(), "certification": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env["LMS_DATA_DIR"] = str(tmp_path)
    for service, port in ports.items():
        env[f"LMS_{service.upper()}_PORT"] = str(port)
        env[f"LMS_{service.upper()}_DATABASE_URL"] = await create_database(pg_admin, service, migrate=False)
    env["LMS_WEB_PORT"] = str(free_port())  # the web app, started last
    return env, ports


def test_help_documents_every_command() -> None:
    out = subprocess.run([*LMS, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("up", "serve", "migrate", "token"):
        assert command in out


def test_token_prints_a_valid_jwt(tmp_path: Path) -> None:
    env = {**os.environ, "LMS_DATA_DIR": str(tmp_path)}
    env.pop("LMS_SERVICE_KEY_FILE", None)
    missing = subprocess.run([*LMS, "token", "--role", "hr"], capture_output=True, text=True, env=env)
    assert missing.returncode == 1 and "no signing key at" in missing.stderr and "keys" in missing.stderr
    assert not (tmp_path / "keys").exists(), "token never creates keys the services would not trust"
    subprocess.run([*LMS, "keys"], capture_output=True, check=True, env=env)
    out = subprocess.run(
        [*LMS, "token", "--role", "hr", "--sub", "hr-1", "--name", "HR", "--org", "ORG", "--ttl", "60"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    claims = jwt.decode(out, options={"verify_signature": False})
    assert claims["sub"] == "hr-1" and claims["roles"] == ["hr"] and claims["org"] == "ORG"
    assert claims["exp"] - claims["iat"] == 60
    assert (tmp_path / "keys" / "jwks.json").exists()
    bad = subprocess.run([*LMS, "token", "--role", "king"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "king" in bad.stderr


def test_demo_with_nothing_running_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env["LMS_DATA_DIR"] = str(tmp_path)
    for service in ("placement", "progress", "certification"):
        env[f"LMS_{service.upper()}_PORT"] = str(free_port())
    done = subprocess.run([*LMS, "demo"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "nothing answers at http://127.0.0.1:" in done.stderr
    assert "dev.py up" in done.stderr and "Traceback" not in done.stderr


def test_up_serves_all_three_then_stops_cleanly(up_env: tuple[dict[str, str], dict[str, int]]) -> None:
    env, ports = up_env
    proc = subprocess.Popen([*LMS, "up", "--no-demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        ready: set[str] = set()
        everything = {**ports, "web": int(env["LMS_WEB_PORT"])}
        while ready != set(everything) and time.monotonic() < deadline:
            for service, port in everything.items():
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                        ready.add(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        assert ready == set(everything), f"ready within 30 s: {ready}"
        time.sleep(1)  # `up` prints the addresses once it has seen everything ready
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert f"http://127.0.0.1:{ports['progress']}/docs" in output and "Stopped (services)." in output
    assert f"Open http://127.0.0.1:{env['LMS_WEB_PORT']}" in output
    for port in [*ports.values(), int(env["LMS_WEB_PORT"])]:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
            raise AssertionError(f"port {port} still answers after stop")
        except httpx.ConnectError:
            pass


def test_up_exits_non_zero_when_a_service_dies(up_env: tuple[dict[str, str], dict[str, int]]) -> None:
    env, ports = up_env
    blocker = subprocess.Popen([sys.executable, "-m", "http.server", str(ports["certification"]), "-b", "127.0.0.1"])
    try:
        time.sleep(0.5)  # certification's port is taken, so that service dies at start
        proc = subprocess.run([*LMS, "up", "--no-demo"], env=env, capture_output=True, text=True, timeout=90)
    finally:
        blocker.kill()
    assert proc.returncode != 0
    assert f"port {ports['certification']} on 127.0.0.1 (certification) is already in use" in proc.stdout + proc.stderr


def _postgres_processes(folder: Path) -> list[int]:
    """Processes whose command line names a PostgreSQL data folder under ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "postgres" in cmdline and str(folder) in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc to find left-over servers")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_stops_everything_it_started_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """Embedded database included; a pid file and a server that a killed earlier run left behind are taken over."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env["LMS_DATA_DIR"] = str(tmp_path)
    ports = {s: free_port() for s in ("placement", "progress", "certification")}
    for service, port in ports.items():
        env[f"LMS_{service.upper()}_PORT"] = str(port)
    # A killed earlier run: the embedded server still running, and a pid file naming a dead process.
    orphan = "from services.common import embedded; embedded.server_url(); import os; os._exit(0)"
    subprocess.run([sys.executable, "-c", orphan], env=env, check=True, timeout=120)
    assert _postgres_processes(tmp_path), "the orphaned server runs"
    # its pid is now free (SIGINT case) or taken by an unrelated program (SIGTERM case)
    other = subprocess.Popen(["sleep", "120"] if sig == signal.SIGTERM else [sys.executable, "-c", "pass"])
    if sig != signal.SIGTERM:
        other.wait()
    (tmp_path / "up.pid").write_text(str(other.pid))

    # SIGINT through the README's command (dev.py becomes `lms up`), SIGTERM to `lms up` itself
    command = [sys.executable, str(ROOT / "dev.py"), "up"] if sig == signal.SIGINT else [*LMS, "up"]
    proc = subprocess.Popen([*command, "--no-demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300  # dev.py may first bring .venv up to date
        while time.monotonic() < deadline:
            try:
                if all(
                    httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200
                    for port in ports.values()
                ):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        other.kill()
        other.wait()
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert output.count("Stopped (services and database).") == 1, output
    assert _postgres_processes(tmp_path) == []
    assert not (tmp_path / "up.pid").exists()
