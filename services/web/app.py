"""The web app: ``create_app(settings)`` builds the Litestar application (port 8000).

Stateless: the signed-in person lives in an encrypted, signed cookie (AES-GCM), so any replica
serves any request. Every form carries a CSRF token; every page is sent with a strict
Content-Security-Policy (scripts and styles only from this origin, no inline script).
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import logging
import re
import secrets
import time
from base64 import b64decode
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from jinja2 import BaseLoader, Environment, FileSystemLoader, TemplateNotFound
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
)
from litestar.middleware.session.client_side import AAD, ClientSideSessionBackend, CookieBackendConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.serialization import decode_json
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Empty, Message, ScopeSession
from markupsafe import escape

from services.common.edge import parse_networks
from services.common.front import AccessLog, front_middleware
from services.common.observability import access_log_wanted, configure_logging, health_controller
from services.web.api import ROUTES
from services.web.api.common import SignInNeeded, lang_of, render
from services.web.client import ApiError, Outage, Services
from services.web.domain import problems
from services.web.domain.i18n import LANGS, translate
from services.web.settings import Settings, get_settings

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# on every answer, pages or not (added by the kernel's front middleware, with the request id)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def secret_bytes(settings: Settings) -> bytes:
    """32 bytes for AES-256-GCM: derived from ``LMS_WEB_SESSION_SECRET``, else random per process."""
    if settings.session_secret:
        return hashlib.sha256(settings.session_secret.encode()).digest()
    return secrets.token_bytes(32)


class SessionBackend(ClientSideSessionBackend):
    """The encrypted session cookie, written only when the session changes: its lifetime is fixed
    at sign-in (``LMS_WEB_SESSION_MAX_AGE``), and a page that only reads the session costs no
    encryption and sends no ``Set-Cookie``.

    A cookie once opened is not decrypted again on every page: the last ``OPENED`` cookies that
    decrypted (their exact bytes, which the AES-GCM tag authenticated) are kept with what they hold
    and until when they are valid. Only a byte-identical cookie hits, and its expiry is still checked."""

    OPENED = 4096

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.opened: dict[bytes, tuple[float, bytes]] = {}

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        plain = self.open(connection)
        connection.scope.setdefault("state", {})["session_as_loaded"] = plain
        return self.deserialize_data(plain) if plain else {}

    def open(self, connection: ASGIConnection[Any, Any, Any, Any]) -> bytes:
        """The session as it was serialized (``b""`` for none, or a cookie that does not open)."""
        keys = self.get_cookie_keys(connection)
        if not keys:
            return b""
        cookie = b"".join(connection.cookies[key].encode("utf-8") for key in keys)
        known = self.opened.get(cookie)
        if known is not None and known[0] > round(time.time()):
            return known[1]
        try:
            data = self.load_data([cookie])
        except (InvalidTag, binascii.Error, ValueError, KeyError, TypeError, SerializationException):
            return b""
        if not data:
            return b""
        decoded = b64decode(cookie)
        expires_at = float(decode_json(decoded[decoded.find(AAD) :].replace(AAD, b""))["expires_at"])
        if len(self.opened) >= self.OPENED:
            del self.opened[next(iter(self.opened))]  # the oldest
        plain = self.serialize_data(data)
        self.opened[cookie] = (expires_at, plain)
        return plain

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        loaded = connection.scope.get("state", {}).get("session_as_loaded")
        if loaded and scope_session and scope_session is not Empty and self.serialize_data(scope_session) == loaded:
            return
        await super().store_in_message(scope_session, message, connection)


class SessionConfig(CookieBackendConfig):
    _backend_class = SessionBackend


class Translated(BaseLoader):
    """The templates in each language, named ``<lang>/<name>``: each ``{{ t("key") }}`` of a fixed
    key is replaced by its (escaped) words once, at start, so a page pays no call for them; texts
    with values stay calls."""

    FIXED = re.compile(r"""\{\{\s*t\((["'])([\w.]+)\1\)\s*\}\}""")

    def __init__(self) -> None:
        self.files = FileSystemLoader(HERE / "templates")

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        lang, _, name = template.partition("/")
        if lang not in LANGS:
            raise TemplateNotFound(template)
        source, filename, uptodate = self.files.get_source(environment, name)

        def words(match: re.Match[str]) -> str:
            text = translate(lang, match.group(2))
            return match.group(0) if "{" in text else str(escape(text))

        return self.FIXED.sub(words, source), filename, uptodate

    def list_templates(self) -> list[str]:
        return [f"{lang}/{name}" for lang in LANGS for name in self.files.list_templates()]


class PerLanguage(Environment):
    """Templates named ``<lang>/<name>``; what they extend, import or include is in the same language."""

    def join_path(self, template: str, parent: str) -> str:
        return f"{parent.partition('/')[0]}/{template}"


def template_engine() -> JinjaTemplateEngine:
    """Jinja with every template compiled once per language, at start (no file checks per page)."""
    env = PerLanguage(loader=Translated(), autoescape=True, auto_reload=False, cache_size=-1)
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    return JinjaTemplateEngine.from_environment(env)


def on_sign_in_needed(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    if request.headers.get("hx-request"):
        return Response(content="", status_code=401, headers={"HX-Redirect": "/signin"})
    return Redirect(path="/signin", status_code=303)


def on_outage(request: Request[Any, Any, Any], exc: Exception) -> Template:
    assert isinstance(exc, Outage)
    lang = lang_of(request)
    message = translate(lang, "error.outage", service=translate(lang, f"service.{exc.service}"))
    return render(request, "error.html", status_code=503, title=translate(lang, "error.outage.title"), message=message)


def on_api_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, ApiError)
    lang = lang_of(request)
    if exc.status == 401:
        request.clear_session()
        return Redirect(path="/signin", status_code=303)
    title = translate(lang, "error.notfound") if exc.status == 404 else translate(lang, "error.title")
    message = problems.problem_title(exc.slug, exc.status, lang)
    return render(request, "error.html", status_code=exc.status, title=title, message=message)


def on_http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    lang = lang_of(request)
    if isinstance(exc, NotFoundException):
        title = translate(lang, "error.notfound")
    elif isinstance(exc, PermissionDeniedException):
        title = translate(lang, "error.forbidden")
    else:
        title = translate(lang, "error.title")
    return render(request, "error.html", status_code=exc.status_code, title=title, message=str(exc.detail))


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging("web", settings.log_level, settings.log_json)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call is noise; errors still show
    secret = secret_bytes(settings)
    access_log = AccessLog("web", settings.log_json) if access_log_wanted(settings.log_level) else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.services = Services(settings)
        # what start made (routes, templates, translations) lives as long as the process: the garbage
        # collector stops walking it, which made its full collections tens of milliseconds long
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.services.aclose()
            if access_log is not None:
                access_log.flush()

    async def ready() -> str | None:
        return None

    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], opt={"skip_session": True}, include_in_schema=False
    )
    app = Litestar(
        route_handlers=[*ROUTES, static, health_controller(ready)],
        lifespan=[lifespan],
        template_config=TemplateConfig(instance=template_engine()),
        middleware=[
            SessionConfig(
                secret=secret,
                key="lms_session",
                max_age=settings.session_max_age,
                secure=settings.cookie_secure,
                httponly=True,
                samesite="lax",
                exclude=["/static", "/health"],
            ).middleware,
        ],
        csrf_config=CSRFConfig(
            secret=secret.hex(),
            cookie_name="lms_csrf",
            cookie_secure=settings.cookie_secure,
            cookie_httponly=True,
            cookie_samesite="strict",
            exclude=["/health", "/metrics"],
        ),
        exception_handlers={
            SignInNeeded: on_sign_in_needed,
            NotAuthorizedException: on_sign_in_needed,
            Outage: on_outage,
            ApiError: on_api_error,
            HTTPException: on_http_error,
        },
        openapi_config=None,
        debug=False,
    )
    # The kernel's front middleware, outermost: request id, edge checks, the headers above, metrics
    # and the access log, for every answer including those made before routing.
    app.asgi_handler = front_middleware(
        app.asgi_handler,
        service="web",
        max_header_bytes=settings.max_header_bytes,
        max_json_depth=settings.max_json_depth,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        access_log=access_log,
        headers=SECURITY_HEADERS,
        page_headers=(),
    )
    app.state.settings = settings
    return app
