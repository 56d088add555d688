"""Streaming CSV and NDJSON exports over real HTTP: headers, chunking, content."""

from __future__ import annotations

import csv
import io
import json

from litestar import get
from litestar.response import Stream

from services.common.app import ServiceSpec, build_app
from services.common.auth import allow
from services.common.export import CSV, NDJSON, stream_csv, stream_ndjson
from services.placement.settings import get_settings
from tests.support import Keys, client_for

SERVICE = "placement"
N = 20_000  # several chunks


async def numbers():  # type: ignore[no-untyped-def]
    for i in range(N):
        yield (i, f"name, with comma {i}", "한국어")


@get("/v1/things.csv", opt=allow("admin"), media_type=CSV)
async def things_csv() -> Stream:
    return stream_csv(["id", "name", "note"], numbers(), "things.csv")


@get("/v1/things.ndjson", opt=allow("admin"), media_type=NDJSON)
async def things_ndjson() -> Stream:
    async def rows():  # type: ignore[no-untyped-def]
        async for i, name, note in numbers():
            yield {"id": i, "name": name, "note": note}

    return stream_ndjson(rows(), "things.ndjson")


async def test_csv_and_ndjson_stream(database_url: str, keys: Keys) -> None:
    app = build_app(
        get_settings(database_url=database_url, relay_enabled=False), ServiceSpec("t", "t", [things_csv, things_ndjson])
    )
    async with client_for(app) as client:
        r = await client.get("/v1/things.csv", headers=keys.headers("admin"))
        assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.headers["transfer-encoding"] == "chunked"
        assert 'filename="things.csv"' in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0] == ["id", "name", "note"] and len(rows) == N + 1
        assert rows[-1] == [str(N - 1), f"name, with comma {N - 1}", "한국어"]
        r = await client.get("/v1/things.ndjson", headers=keys.headers("admin"))
        lines = r.text.splitlines()
        assert r.headers["content-type"].startswith(NDJSON) and len(lines) == N
        assert json.loads(lines[5]) == {"id": 5, "name": "name, with comma 5", "note": "한국어"}
        schema = (await client.get("/docs/openapi.json")).json()
        assert "text/csv" in schema["paths"]["/v1/things.csv"]["get"]["responses"]["200"]["content"]
