"""Streaming exports (CSV, NDJSON): rows go out in chunks as they are read, so a large export
never sits in memory. Give each format its own route (``/v1/things.csv``), so the OpenAPI
document can say exactly what each answers.

Every CSV of every service is written here (``stream_csv``, or ``csv_text`` for a small body):
RFC 4180 line endings (CRLF), and text cells that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-`` or ``@``, also after leading tabs or carriage returns) are prefixed with
a single quote, so ``=HYPERLINK(...)`` in a name arrives as text. Numbers are written as they are."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterable, Iterable, Sequence
from typing import Any

import msgspec
from litestar.response import Stream

CSV = "text/csv"
NDJSON = "application/x-ndjson"
CHUNK = 64 * 1024
# A text cell a spreadsheet would evaluate: optional leading tabs/carriage returns, then = + - @.
FORMULA = re.compile(r"[\t\r]*[=+\-@]")


def safe_cell(value: Any) -> Any:
    """A cell as written: text that would start a formula gets a leading ``'``; other values as they are."""
    if isinstance(value, str) and FORMULA.match(value):
        return "'" + value
    return value


def csv_writer(buffer: io.StringIO) -> Any:
    """The one CSV dialect of the project: RFC 4180 (CRLF, minimal quoting)."""
    return csv.writer(buffer, lineterminator="\r\n")


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows (the header included) as neutralised CSV text, for small bodies built in one piece."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


def stream_csv(header: Sequence[str], rows: AsyncIterable[Sequence[Any]], filename: str) -> Stream:
    """A chunked ``text/csv`` download of ``header`` then ``rows``."""

    async def body() -> AsyncIterable[str]:
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        writer.writerow([safe_cell(v) for v in header])
        async for row in rows:
            writer.writerow([safe_cell(v) for v in row])
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
