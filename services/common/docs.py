"""The API docs pages and the conventions of every service's OpenAPI document.

Pages: ``/docs`` is Scalar, ``/docs/swagger`` is Swagger UI, both reading ``/docs/openapi.json``;
their JavaScript and CSS are the vendored files under ``docs_assets/`` (see its README), served at
``/docs/assets``, so the docs work offline and never change under us. ``/`` points to all three.

Document (what a client generator relies on): an ``operationId`` per route from its handler's
name (``create_item`` -> ``createItem``), stable across releases; a one-line summary from the
first sentence of the handler's docstring; the bearer requirement on every route except the
public ones; no generated (random) examples; schema names without module paths.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, get
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import Method

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
ASSETS_DIR = Path(__file__).parent / "docs_assets"
SCALAR = f"{ASSETS_PATH}/scalar-1.76.0/standalone.js"
SWAGGER_JS = f"{ASSETS_PATH}/swagger-ui-5.35.0/swagger-ui-bundle.js"
SWAGGER_CSS = f"{ASSETS_PATH}/swagger-ui-5.35.0/swagger-ui.css"
OPENAPI_JSON = f"{DOCS_PATH}/openapi.json"


def _page(title: str, head: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n"
    ).encode()


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c")


class ScalarDocs(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        config = {
            "url": OPENAPI_JSON,
            "withDefaultFonts": False,  # the default fonts come from a CDN
            "proxyUrl": "",  # "try it" calls the service directly (same origin)
            "telemetry": False,
        }
        body = (
            '<div id="app"></div>\n'
            f'<script src="{SCALAR}"></script>\n'
            f"<script>Scalar.createApiReference('#app', {_script_json(config)})</script>\n"
        )
        return _page(openapi_schema["info"]["title"], "", body)


class SwaggerDocs(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path="/swagger")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        config = {"url": OPENAPI_JSON, "dom_id": "#swagger-ui", "deepLinking": True, "validatorUrl": None}
        body = (
            '<div id="swagger-ui"></div>\n'
            f'<script src="{SWAGGER_JS}"></script>\n'
            f"<script>window.ui = SwaggerUIBundle({_script_json(config)})</script>\n"
        )
        return _page(openapi_schema["info"]["title"], f'<link rel="stylesheet" href="{SWAGGER_CSS}">\n', body)


assets_router = create_static_files_router(
    path=ASSETS_PATH,
    directories=[ASSETS_DIR],
    include_in_schema=False,
    opt={"public": True},
    cache_control=None,
)


@get("/", media_type=MediaType.HTML, include_in_schema=False, opt={"public": True})
async def root_page(request: Request[Any, Any, Any]) -> str:
    """A page pointing to the docs, for whoever opens the service's address in a browser."""
    title = html.escape(request.app.openapi_schema.info.title)
    return _page(
        title,
        "",
        f"<h1>{title}</h1>\n<ul>\n"
        f'<li><a href="{DOCS_PATH}">API reference</a> (Scalar)</li>\n'
        f'<li><a href="{DOCS_PATH}/swagger">Swagger UI</a></li>\n'
        f'<li><a href="{OPENAPI_JSON}">OpenAPI document</a> (JSON)</li>\n'
        '<li><a href="/health/ready">Readiness</a></li>\n</ul>\n',
    ).decode()


# --- the OpenAPI document -------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.strip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def summary_of(handler: Any) -> str:
    """The first sentence of the handler's docstring, else its name in words."""
    doc = inspect.cleandoc(getattr(handler.fn, "__doc__", None) or "")
    paragraph = " ".join(doc.split("\n\n")[0].split())
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", paragraph)[0].rstrip(".") if paragraph else ""
    return first or handler.handler_name.replace("_", " ").strip().capitalize()


def _owner_name(handler: Any) -> str:
    """``Session`` for a method of ``SessionController``; empty for a plain function."""
    parts = getattr(handler.fn, "__qualname__", "").split(".")
    return parts[-2].removesuffix("Controller") if len(parts) > 1 else ""


def operation_id(handler: Any, method: Method, path_components: Sequence[Any]) -> str:
    """``createItem`` from ``create_item``; the method is prefixed when one handler serves several."""
    name = getattr(handler, "lms_operation_id", None) or _camel(handler.handler_name)
    if len(handler.http_methods) > 1:
        name = str(method).lower() + name[:1].upper() + name[1:]
    return str(name)


def document_operations(handlers: list[Any], public: list[Any]) -> None:
    """OperationIds, summaries, the bearer requirement on non-public routes, no generated examples.

    A handler name used by two controllers of one service gets its controller's name appended
    (``create`` in ``SessionController`` -> ``createSession``)."""
    listed = [h for h in handlers if h.include_in_schema]
    names = Counter(_camel(h.handler_name) for h in listed)
    for handler in listed:
        name = _camel(handler.handler_name)
        handler.lms_operation_id = name + _owner_name(handler) if names[name] > 1 else name
    clashes = Counter(h.lms_operation_id for h in listed)
    if duplicates := sorted(name for name, count in clashes.items() if count > 1):
        raise RuntimeError(f"operationIds must be unique per service; rename these handlers: {duplicates}")
    for handler in handlers:
        if not handler.summary:
            handler.summary = summary_of(handler)
        if handler not in public and handler.security is None:
            handler.security = [{"bearer": []}]
        if handler.responses:
            handler.responses = {
                status: dataclasses.replace(spec, generate_examples=False) for status, spec in handler.responses.items()
            }


def tidy_schema_names(app: Litestar) -> None:
    """``Page_services.placement.schemas.ItemOut_`` -> ``PageItemOut``, every ``$ref`` included."""
    document: dict[str, Any] = app.plugins.get("OpenAPIPlugin").provide_openapi_schema()
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for name in list(schemas):
        if "." not in name and not name.endswith("_"):
            continue
        new = "".join(part.rsplit(".", 1)[-1] for part in re.split(r"[_,\s]+", name))
        if new and new not in schemas and new not in renames.values():
            renames[name] = new
    if not renames:
        return
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = schemas[new].get("title", old) if schemas[new].get("title") != old else new
    refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renames.items()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref in refs:
                node["$ref"] = refs[ref]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
