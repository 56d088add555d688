"""Three real service processes on fresh databases, for journeys and fault-tolerance tests.

Each service runs as ``python -m services.cli serve <name>`` (uvicorn, one worker) on its own
port with its own database; peers reach each other over loopback HTTP. Tests may stop, kill and
restart a service, or start a second replica on the same database.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import TEST_KEY_PASSPHRASE, Keys, create_database, free_port

SERVICES = ("placement", "progress", "certification")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    keys: Keys
    urls: dict[str, str]  # database URL per service
    ports: dict[str, int]
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

    def base(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
        env.update(
            {
                "LMS_DATA_DIR": str(self.log_dir / "data"),
                "LMS_JWKS": str(self.keys.jwks_file),
                "LMS_SERVICE_KEY_FILE": str(self.keys.private_file),
                "LMS_DEV_KEY_FILE": str(self.keys.private_file),
                "LMS_LOG_LEVEL": "WARNING",
                "LMS_RELAY_POLL_SECONDS": "0.2",
                "LMS_RELAY_BACKOFF_BASE": "0.2",
                "LMS_RELAY_BACKOFF_CAP": "1.0",
                "LMS_PEER_TIMEOUT_SECONDS": "3",
                "LMS_CERTIFICATION_KEY_PASSPHRASE": TEST_KEY_PASSPHRASE,
                "LMS_CERTIFICATION_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            }
        )
        for name in SERVICES:
            env[f"LMS_{name.upper()}_DATABASE_URL"] = self.urls[name]
            env[f"LMS_{name.upper()}_URL"] = self.base(name)
            env[f"LMS_{name.upper()}_PUBLIC_URL"] = self.base(name)
        env.update(self.extra_env)
        return env

    def start(self, service: str, port: int | None = None, wait: bool = True) -> subprocess.Popen[bytes]:
        """Start one process of ``service`` (another replica when ``port`` differs)."""
        port = port or self.ports[service]
        log = open(self.log_dir / f"{service}-{port}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port)],
            env=self.env(service),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.setdefault(service, []).append(proc)
        if wait:
            wait_ready(f"http://127.0.0.1:{port}", proc)
        return proc

    def stop(self, service: str, sig: int = signal.SIGTERM) -> None:
        for proc in self.procs.pop(service, []):
            if proc.poll() is None:
                proc.send_signal(sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self, service: str) -> None:
        self.stop(service, signal.SIGKILL)

    def stop_all(self) -> None:
        for service in list(self.procs):
            self.stop(service)

    def log(self, service: str) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob(f"{service}-*.log")))


def wait_ready(base: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} not ready within {timeout}s")


async def provision(admin: str, keys: Keys, log_dir: Path, seed: bool = True) -> Stack:
    """Fresh migrated databases (seeded with each service's demo data) and free ports."""
    urls = {name: await create_database(admin, name) for name in SERVICES}
    if seed:
        for name, url in urls.items():
            try:
                module = importlib.import_module(f"services.{name}.seed")
            except ModuleNotFoundError:
                continue
            await module.seed(url)
    return Stack(keys=keys, urls=urls, ports={name: free_port() for name in SERVICES}, log_dir=log_dir)


async def eventually(check, within: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``await check()`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value {value!r})")
        await asyncio.sleep(interval)
