"""Sign-in with OpenID Connect (authorization code flow with PKCE) against a real provider: the
certified `oidc-provider` package on Node, started on loopback. The services verify the access
tokens it issues against its key set; development sign-in is refused while a provider is set."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import SERVICES, provision
from tests.support import Keys, free_port
from tests.web.browser import axe_check
from tests.web.conftest import JS, Web, npm_ci, start_web, web_env

pytestmark = pytest.mark.e2e


async def wait_for(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(150):
            if proc.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited with {proc.returncode}")
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the OpenID provider did not start")


def start_provider(port: int, redirect_uri: str, secret: str, log_file: Path) -> subprocess.Popen[bytes]:
    log = open(log_file, "ab")
    return subprocess.Popen(
        ["node", "provider.mjs", str(port), redirect_uri, secret], cwd=JS, stdout=log, stderr=subprocess.STDOUT
    )


@pytest.fixture
async def oidc_web(pg_admin: str, keys: Keys, tmp_path: Path) -> AsyncIterator[Web]:
    npm_ci()
    provider_port, web_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    web_base = f"http://127.0.0.1:{web_port}"
    secret = secrets.token_urlsafe(24)
    provider = start_provider(provider_port, f"{web_base}/auth/callback", secret, tmp_path / "provider.log")
    stack = await provision(pg_admin, keys, tmp_path)
    # the services trust the provider's keys (people) and the development key (their own calls)
    stack.extra_env.update({"LMS_JWKS": f"{issuer}/jwks,{keys.jwks_file}", "LMS_JWT_ISSUER": issuer})
    web_proc = None
    try:
        await wait_for(f"{issuer}/.well-known/openid-configuration", provider)
        for service in SERVICES:
            stack.start(service)
        env = web_env(
            stack,
            LMS_WEB_PUBLIC_URL=web_base,
            LMS_WEB_OIDC_ISSUER=issuer,
            LMS_WEB_OIDC_CLIENT_ID="lms-web",
            LMS_WEB_OIDC_CLIENT_SECRET=secret,
            LMS_WEB_OIDC_SCOPES="openid profile lms",
            LMS_WEB_OIDC_RESOURCE="urn:lms:api",
            LMS_WEB_CLAIM_ORG="org_unit",
            LMS_WEB_CLAIM_ROLES="groups",
        )
        base, web_proc = start_web(stack, env, port=web_port)
        yield Web(base, stack, web_proc)
    finally:
        if web_proc is not None:
            web_proc.terminate()
            web_proc.wait(timeout=15)
        stack.stop_all()
        provider.terminate()
        provider.wait(timeout=10)


async def test_sign_in_with_the_programmes_openid_provider(oidc_web: Web, browser: Any, axe_source: str) -> None:
    context = await browser.new_context(locale="ko-KR")
    page = await context.new_page()
    await page.goto(oidc_web.base + "/signin")
    assert await page.locator("form[action='/auth/dev']").count() == 0
    assert await page.locator(".devbar").count() == 0
    await axe_check(page, axe_source, "signin-oidc")
    # development sign-in is refused while a provider is configured (even with a valid CSRF token)
    refused = await page.evaluate(
        """async () => {
            const token = JSON.parse(document.body.getAttribute('hx-headers'))['x-csrftoken'];
            const body = new URLSearchParams({persona: 'admin'});
            const r = await fetch('/auth/dev', {method: 'POST', body, headers: {'x-csrftoken': token}});
            return r.status;
        }"""
    )
    assert refused == 403

    await page.click("a[href='/auth/login']")
    # the provider's own login and consent pages
    await page.fill("input[name=login]", "oidc-official")
    await page.fill("input[name=password]", "anything")
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    if await page.locator("button[type=submit]").count():
        await page.click("button[type=submit]")  # consent
    await page.wait_for_url(oidc_web.base + "/")
    assert "최하늘" in await page.inner_text("header .who")
    assert "진단평가" in await page.inner_text("main")
    assert "code=" not in page.url and "token" not in page.url
    cookies = {c["name"]: c for c in await context.cookies()}
    session = cookies["lms_session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"
    # the services accept the provider's access token: placement starts a diagnostic with it
    await page.goto(oidc_web.base + "/diagnostic")
    await page.click("form[action='/diagnostic/start'] button")
    assert await page.locator("form.item input[type=radio]").count() >= 2
    await axe_check(page, axe_source, "diagnostic-item-oidc")
    # sign-out forgets the session
    await page.click("form[action='/signout'] button")
    await page.goto(oidc_web.base + "/")
    assert page.url.endswith("/signin")
    await context.close()
