"""The web app over plain HTTP: security headers, cookie flags, CSRF, the encrypted session, and
pages during an outage (a clear message, nothing typed lost)."""

from __future__ import annotations

import base64
import re
from http.cookies import SimpleCookie

import httpx
import pytest

from tests.web.conftest import Web

pytestmark = pytest.mark.e2e


class Browser:
    """Just enough of a browser: keeps cookies itself (Secure cookies on a loopback http URL)."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=10)
        self.jar: dict[str, str] = {}
        self.set_cookie: list[str] = []

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: object
    ) -> httpx.Response:
        headers = dict(headers or {})
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        response = await self.http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        for raw in response.headers.get_list("set-cookie"):
            self.set_cookie.append(raw)
            cookie = SimpleCookie()
            cookie.load(raw)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value or morsel.value == '""':
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = morsel.value
        return response

    def csrf(self, page: str) -> str:
        return re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    async def sign_in(self, persona: str, sub: str = "") -> None:
        page = (await self.request("GET", "/signin")).text
        form = {"_csrf_token": self.csrf(page), "persona": persona, "sub": sub, "name": "", "org": ""}
        response = await self.request("POST", "/auth/dev", data=form)
        assert response.status_code == 303, response.text


async def test_headers_cookies_csrf_and_the_encrypted_session(web: Web) -> None:
    b = Browser(web.base)
    page = await b.request("GET", "/signin")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers.get_list("content-security-policy") == [csp]  # one policy, the web app's
    assert page.headers["referrer-policy"] == "same-origin" and page.headers["cache-control"] == "no-store"
    assert re.fullmatch(r"[0-9a-f]{32}", page.headers["x-request-id"])  # made when none came
    echoed = await b.request("GET", "/static/app.css", headers={"X-Request-ID": "web-test-1"})
    assert echoed.headers["x-request-id"] == "web-test-1" and echoed.headers["x-frame-options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert not re.search(r"\son[a-z]+=", page.text)  # no inline event handlers
    # a form without its CSRF token is refused, and nothing happens
    refused = await b.request("POST", "/auth/dev", data={"persona": "admin"})
    assert refused.status_code == 403
    assert "lms_session" not in b.jar
    await b.sign_in("admin", sub="admin-http")
    cookie = next(c for c in b.set_cookie if c.startswith("lms_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=lax" in cookie.lower()
    csrf_cookie = next(c for c in b.set_cookie if c.startswith("lms_csrf="))
    assert "HttpOnly" in csrf_cookie and "Secure" in csrf_cookie and "samesite=strict" in csrf_cookie.lower()
    # the session is encrypted: neither the token nor the person's id can be read from it
    raw = b.jar["lms_session"]
    decoded = base64.b64decode(raw.strip('"'))
    assert b"admin-http" not in decoded and b"eyJ" not in decoded and b"admin-http" not in raw.encode()
    b.set_cookie.clear()
    home = await b.request("GET", "/admin/certificates")
    assert home.status_code == 200 and ("Development sign-in" in home.text or "개발용 로그인" in home.text)
    # a page that only reads the session does not write it again (its lifetime is fixed at sign-in)
    assert not [c for c in b.set_cookie if c.startswith("lms_session=")]
    # a tampered cookie is no session at all
    b.jar["lms_session"] = raw.replace(raw[10:14], "AAAA" if raw[10:14] != "AAAA" else "BBBB")
    assert (await b.request("GET", "/admin")).headers["location"] == "/signin"


async def test_an_outage_says_so_and_keeps_what_was_typed(web: Web) -> None:
    b = Browser(web.base)
    await b.sign_in("admin")
    page = (await b.request("GET", "/admin/sessions")).text
    web.stack.stop("progress")
    form = {
        "_csrf_token": b.csrf(page),
        "key": "k-1",
        "level": "2",
        "title": "Autumn analysts, 데이터",
        "days": "2027-09-01 2027-09-02",
        "seats": "18",
        "place": "Hall B",
        "instructor_id": "",
        "waitlist_limit": "",
    }
    answer = await b.request("POST", "/admin/sessions", data=form, headers={"Accept-Language": "en"})
    assert answer.status_code == 503
    assert "cannot be reached" in answer.text or "연결할 수 없습니다" in answer.text
    for value in ("Autumn analysts, 데이터", "2027-09-01 2027-09-02", "18", "Hall B"):
        assert f'value="{value}"' in answer.text, value
    listing = await b.request("GET", "/admin/curricula")
    assert listing.status_code == 503


async def test_the_diagnostic_intro_states_the_rules_placement_runs(web: Web) -> None:
    from services.placement.settings import Settings  # the stack runs placement's defaults

    rules = Settings()
    b = Browser(web.base)
    await b.sign_in("learner", sub="official-rules")
    page = await b.request("GET", "/diagnostic", headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text
    assert f"at least {rules.min_items}, at most {rules.max_items} scored items" in page.text
    assert f"Up to {rules.pretest_max} trial items" in page.text
    assert f"within {rules.session_idle_minutes:g} minutes" in page.text
    assert f"{rules.retake_cooldown_days:g} days after a result" in page.text
