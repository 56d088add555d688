"""What every page shares: who is signed in, the language, rendering, and turning API answers into pages."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect, Template

from services.web.client import ApiError, Outage, Services, new_key
from services.web.domain import charts, fmt, problems
from services.web.domain.i18n import LANGS, translate
from services.web.settings import Settings

LANG_COOKIE = "lms_lang"


@dataclass
class Viewer:
    """The signed-in person, as kept in the encrypted session cookie."""

    sub: str
    name: str
    org: str
    roles: list[str]
    token: str
    expires: float
    dev: bool = False

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class SignInNeeded(NotAuthorizedException):
    """No (or an expired) session: the exception handler sends the person to sign in."""


def settings_of(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings


def api(request: Request[Any, Any, Any]) -> Services:
    return request.app.state.services


def lang_of(request: Request[Any, Any, Any]) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        return chosen
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "ko"


def current_viewer(request: Request[Any, Any, Any]) -> Viewer | None:
    """The signed-in person of this request (read once per session object: a page asks more than once)."""
    session = request.scope.get("session")
    state = request.scope.setdefault("state", {})
    seen = state.get("lms_viewer")
    if seen is not None and seen[0] is session:
        viewer = seen[1]
    else:
        viewer = viewer_of(session)
        state["lms_viewer"] = (session, viewer)
    return viewer if viewer is not None and viewer.expires > time.time() + 5 else None


def viewer_of(session: Any) -> Viewer | None:
    data = session.get("viewer") if isinstance(session, dict) else None
    if not isinstance(data, dict):
        return None
    try:
        return Viewer(**data)
    except TypeError:
        return None


def sign_in(request: Request[Any, Any, Any], viewer: Viewer) -> None:
    request.clear_session()
    request.set_session({"viewer": asdict(viewer)})


def need(request: Request[Any, Any, Any], *roles: str) -> Viewer:
    """The signed-in viewer holding one of ``roles`` (sign in first; otherwise 403)."""
    viewer = current_viewer(request)
    if viewer is None:
        raise SignInNeeded()
    if roles and not viewer.has(*roles):
        raise PermissionDeniedException(translate(lang_of(request), "error.forbidden"))
    return viewer


def render(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    """The page with what every template uses (language, viewer, formatters); a form failure's
    ``failed_status`` (503 for an outage) wins over ``status_code``."""
    status_code = context.pop("failed_status", status_code)
    lang = lang_of(request)
    settings = settings_of(request)
    viewer = current_viewer(request)
    scope = request.scope
    path, query = scope.get("root_path", "") + scope["path"], scope["query_string"].decode()  # as request.url has them

    def t(key: str, **kw: Any) -> str:
        return translate(lang, key, **kw)

    base = {
        "lang": lang,
        "t": t,
        "viewer": viewer,
        "dev_mode": settings.dev_signin_enabled,
        "path": path,
        "nav": nav_of(path),
        "path_qs": path + (f"?{query}" if query else ""),
        "seoul": lambda v: fmt.seoul(v, lang),
        "day": lambda v: fmt.day(v, lang),
        "pct": fmt.percent,
        "bars": charts.bars,
        "pick": lambda text: pick(text, lang),
        "errors": {},
        "values": {},
        "notice": None,
        "problem": None,
        "new_key": new_key,
    }
    base.update(context)
    # the media type said, not guessed from the template's name on every page
    # the template in the page's language (its fixed words written in at start)
    return Template(
        template_name=f"{lang}/{template}", context=base, status_code=status_code, media_type=MediaType.HTML
    )


def nav_of(path: str) -> str:
    """The navigation link of the page at ``path`` (marked as the current page): its first
    segment, two under ``/admin/`` (``home`` for ``/``)."""
    if path == "/":
        return "home"
    parts = path.split("/", 3)
    if parts[1] == "admin" and len(parts) > 2:
        return f"admin/{parts[2]}"
    return parts[1]


def pick(text: Any, lang: str) -> str:
    """A ``{"ko": ..., "en": ...}`` text in the page's language (a plain string as it is)."""
    if isinstance(text, dict):
        return str(text.get(lang) or text.get("en") or text.get("ko") or next(iter(text.values()), ""))
    return "" if text is None else str(text)


def form_failure(exc: ApiError | Outage, lang: str) -> dict[str, Any]:
    """Context for re-rendering a form after an API error or an outage: the problem's title and
    every field's errors at once, in the page's language."""
    if isinstance(exc, Outage):
        message = translate(lang, "error.outage", service=translate(lang, f"service.{exc.service}"))
        return {"problem": message, "errors": {}, "failed_status": 503}
    return {
        "problem": problems.problem_title(exc.slug, exc.status, lang),
        "errors": problems.form_errors(exc.problem, lang),
    }


def redirect(path: str, notice: str | None = None) -> Redirect:
    target = path if notice is None else f"{path}{'&' if '?' in path else '?'}notice={quote(notice)}"
    return Redirect(path=target, status_code=303)
