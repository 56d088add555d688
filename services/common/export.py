"""Streaming exports (CSV, NDJSON): rows go out in chunks as they are read, so a large export
never sits in memory. Give each format its own route (``/v1/things.csv``), so the OpenAPI
document can say exactly what each answers."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, Sequence
from typing import Any

import msgspec
from litestar.response import Stream

CSV = "text/csv"
NDJSON = "application/x-ndjson"
CHUNK = 64 * 1024


def stream_csv(header: Sequence[str], rows: AsyncIterable[Sequence[Any]], filename: str) -> Stream:
    """A chunked ``text/csv`` download of ``header`` then ``rows``."""

    async def body() -> AsyncIterable[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        async for row in rows:
            writer.writerow(row)
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Stream(body(), media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def stream_ndjson(rows: AsyncIterable[Any], filename: str) -> Stream:
    """A chunked NDJSON download: one JSON value per line."""

    async def body() -> AsyncIterable[bytes]:
        chunk = bytearray()
        async for row in rows:
            chunk += msgspec.json.encode(row) + b"\n"
            if len(chunk) >= CHUNK:
                yield bytes(chunk)
                chunk.clear()
        yield bytes(chunk)

    return Stream(body(), media_type=NDJSON, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
