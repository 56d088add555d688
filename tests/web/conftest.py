"""The web app as a real process in front of the three real services, and a real browser.

Browser tests drive Debian's Chromium (``/usr/bin/chromium``; ``apt-get install -y chromium``)
with Playwright; on a machine without it they skip, saying so. axe-core (from ``js/``, installed
with ``npm ci``) is injected into every page a test visits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import stack  # noqa: F401  (the three services, as processes)
from tests.e2e.stack import ROOT, Stack, wait_ready
from tests.support import free_port

CHROMIUM = os.environ.get("LMS_TEST_CHROMIUM", "/usr/bin/chromium")
JS = Path(__file__).parent / "js"


@dataclass
class Web:
    base: str
    stack: Stack
    proc: subprocess.Popen[bytes]


def web_env(services: Stack, **extra: str) -> dict[str, str]:
    env = services.env("web")
    env.update({"LMS_WEB_SESSION_SECRET": "test-secret-for-the-web-app-cookies-0123456789", **extra})
    return env


def start_web(services: Stack, env: dict[str, str], port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    port = port or free_port()
    log = open(services.log_dir / f"web-{port}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "web", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc)
    return base, proc


@pytest.fixture
async def web(stack: Stack) -> AsyncIterator[Web]:  # noqa: F811
    base, proc = start_web(stack, web_env(stack))
    try:
        yield Web(base, stack, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def npm_ci() -> None:
    if (JS / "node_modules" / ".package-lock.json").exists():
        return
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the browser tests need axe-core from npm")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True)


@pytest.fixture(scope="session")
def axe_source() -> str:
    npm_ci()
    return (JS / "node_modules" / "axe-core" / "axe.min.js").read_text()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium): browser tests skipped")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()
