"""The docs pages work offline (every asset from the service itself, pinned), and the OpenAPI
document follows the conventions a client generator relies on."""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.docs import ASSETS_DIR
from tests.support import client_for, create_database


@pytest.fixture(params=["placement", "progress", "certification"])
async def service_client(request: pytest.FixtureRequest, pg_admin: str) -> AsyncIterator[httpx.AsyncClient]:
    service = request.param
    url = await create_database(pg_admin, service)
    settings = importlib.import_module(f"services.{service}.settings").get_settings(
        database_url=url, relay_enabled=False
    )
    async with client_for(importlib.import_module(f"services.{service}.app").create_app(settings)) as client:
        yield client


async def test_docs_pages_load_only_local_pinned_assets(service_client: httpx.AsyncClient) -> None:
    client = service_client
    for page in ("/docs", "/docs/swagger"):
        r = await client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "http://" not in r.text and "https://" not in r.text, f"{page} references another host"
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/") and not asset.startswith("//"), asset
            got = await client.get(asset)
            assert got.status_code == 200, asset
            assert got.headers["content-type"].split(";")[0] in {
                "text/javascript",
                "application/javascript",
                "text/css",
            }
            assert len(got.content) > 100_000, f"{asset} is the real bundle"
        assert "/docs/openapi.json" in r.text
    document = await client.get("/docs/openapi.json")
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.1")
    root = await client.get("/")
    assert root.status_code == 200 and root.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in root.text and 'href="/docs/swagger"' in root.text


def test_vendored_assets_match_their_recorded_checksums() -> None:
    readme = (ASSETS_DIR / "README.md").read_text()
    recorded = re.findall(r"`([\w./-]+\.(?:js|css))` \| `([0-9a-f]{64})`", readme)
    assert len(recorded) == 3
    for name, digest in recorded:
        [path] = [p for p in ASSETS_DIR.rglob(name.rsplit("/", 1)[-1]) if p.is_file()]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path
        assert (path.parent / "LICENSE").exists(), f"{path.parent.name} ships its licence"


async def test_openapi_document_is_fit_for_client_generators(service_client: httpx.AsyncClient) -> None:
    document = (await service_client.get("/docs/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert not [name for name in schemas if "." in name or name.endswith("_")], "schema names without module paths"
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            where = f"{method.upper()} {path}"
            op_id = operation["operationId"]
            assert re.fullmatch(r"[a-z][A-Za-z0-9]*", op_id) and op_id not in seen, where
            seen.add(op_id)
            summary = operation["summary"]
            assert " " in summary or len(summary) > 12, f"{where}: summary {summary!r} reads like a handler name"
            for status, response in operation["responses"].items():
                for media in response.get("content", {}).values():
                    assert "examples" not in media and "example" not in media, f"{where} {status}: generated example"
            public = "401" not in operation["responses"]
            if public:
                assert "security" not in operation, f"{where} is public yet asks for a bearer token"
            else:
                assert operation["security"] == [{"bearer": []}], where
    assert "security" not in document or document["security"] == [], "public routes stay public"
