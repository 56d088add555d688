"""Item bank routes: items (CRUD), bulk import and streamed export."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Reference, RequestBody, Schema
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from services.common.auth import allow
from services.common.errors import Problem
from services.common.export import csv_text
from services.common.pagination import Page, decode_cursor, page
from services.placement.api.common import JSON_MEDIA, Cursor, Limit, Session, item_out
from services.placement.domain import bank as bank_rules
from services.placement.schemas import ImportReport, ItemIn, ItemOut, ItemPatch, Status
from services.placement.store import bank as store


@dataclass
class ImportOperation(Operation):
    """Documents the import body, which the handler reads raw (JSON or CSV) to report every bad row."""

    def __post_init__(self) -> None:
        rows = Schema(type=OpenAPIType.ARRAY, items=Reference("#/components/schemas/ItemIn"))
        self.request_body = RequestBody(
            required=True,
            description=(
                'A JSON list of items (or {"items": [...]}), or CSV (`Content-Type: text/csv`) with a header row of '
                "the same field names, `stem` as text or a JSON object and `options` as a JSON list."
            ),
            # CSV is described, not listed as a second content type: client generators refuse text/csv bodies
            content={JSON_MEDIA: OpenAPIMediaType(schema=rows)},
        )


def _validate_one(raw: dict[str, Any], domains: set[str]) -> dict[str, Any]:
    try:
        return bank_rules.validate_rows([raw], domains)[0]
    except bank_rules.ImportErrors as exc:
        errors = [{"field": e["field"], "source": "body", "message": e["reason"]} for e in exc.errors]
        raise Problem(
            422,
            "invalid-item",
            "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            title="Invalid item",
            errors=errors,
        ) from exc


def _export(request: Request[Any, Any, Any], fmt: str) -> Stream:
    async def lines() -> AsyncIterator[str]:
        first = True
        if fmt == "json":
            yield "["
        async for row in store.export_rows(request.app.state.sessionmaker):
            if fmt == "json":
                yield ("" if first else ",") + "\n" + json.dumps(row, ensure_ascii=False)
            else:
                yield csv_text(([bank_rules.FIELDS] if first else []) + [bank_rules.csv_cells(row)])
            first = False
        if fmt == "json":
            yield "\n]\n"
        elif first:
            yield csv_text([bank_rules.FIELDS])

    return Stream(
        lines(),
        media_type="text/csv" if fmt == "csv" else JSON_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="item-bank.{fmt}"'},
    )


class ItemController(Controller):
    path = "/v1/items"
    tags = ["item bank"]
    opt = allow("admin")

    @post("/", responses={200: ResponseSpec(data_container=ItemOut, description="The same item already exists.")})
    async def create_item(self, data: JSONBody[ItemIn], session: Session) -> Response[ItemOut]:
        """Create an item (idempotent on its code)."""
        values = _validate_one(msgspec.to_builtins(data), await store.domain_codes(session))
        item, created = await store.create_item(session, values)
        if not created:
            return Response(item_out(item), status_code=200)
        return Response(item_out(item), status_code=201, headers={"Location": f"{self.path}/{item.id}"})

    @get("/")
    async def list_items(
        self,
        session: Session,
        limit: Limit = 50,
        cursor: Cursor = None,
        domain: Annotated[str | None, QueryParameter(description="Only this domain's items.")] = None,
        item_status: Annotated[Status | None, QueryParameter(name="status")] = None,
    ) -> Page[ItemOut]:
        """List items by code (keyset pages)."""
        after = decode_cursor(cursor)
        rows = await store.list_items(session, limit, None if after is None else str(after), domain, item_status)
        return page([item_out(i) for i in rows], limit, lambda r: r.code)

    @get("/export", media_type=JSON_MEDIA)
    async def export_items_json(self, request: Request[Any, Any, Any]) -> Stream:
        """Export every item as a JSON list (the import format, streamed)."""
        return _export(request, "json")

    @get("/export.csv", media_type="text/csv")
    async def export_items_csv(self, request: Request[Any, Any, Any]) -> Stream:
        """Export every item as CSV (the import format, streamed)."""
        return _export(request, "csv")

    @post("/import", status_code=200, operation_class=ImportOperation)
    async def import_items(self, request: Request[Any, Any, Any], session: Session) -> ImportReport:
        """Import items in bulk (JSON or CSV), upserting by code, all or nothing.

        Any bad row rejects the whole file with every problem listed (row number, field, reason);
        rows count from 1 (CSV: the first line after the header)."""
        body = await request.body()
        kind = request.headers.get("content-type", "")
        raw: list[Any] = []
        try:
            raw = bank_rules.parse_csv(body) if "csv" in kind else bank_rules.parse_json(body)
            rows = bank_rules.validate_rows(raw, await store.domain_codes(session))
        except bank_rules.ImportErrors as exc:
            unknown = exc.unknown_domains(raw)
            hint = (
                f" Unknown domains: {', '.join(unknown)} (define them with PUT /v1/domains/{{code}})."
                if unknown
                else ""
            )
            raise Problem(
                422,
                "invalid-import",
                f"The import was rejected and nothing was written: {len(exc.errors)} problem(s); fix every listed row."
                + hint,
                title="Invalid import",
                errors=exc.errors,
                unknown_domains=unknown,
            ) from exc
        created, updated, unchanged = await store.import_items(session, rows)
        return ImportReport(created=created, updated=updated, unchanged=unchanged, total=len(rows))

    @get("/{item_id:uuid}")
    async def get_item(self, item_id: FromPath[uuid.UUID], session: Session) -> ItemOut:
        """Read one item."""
        return item_out(await store.get_item(session, item_id))

    @patch("/{item_id:uuid}")
    async def update_item(self, item_id: FromPath[uuid.UUID], data: JSONBody[ItemPatch], session: Session) -> ItemOut:
        """Change an item (published versions keep their frozen copy)."""
        domains = await store.domain_codes(session)
        changes = msgspec.to_builtins(data)
        return item_out(await store.update_item(session, item_id, changes, lambda row: _validate_one(row, domains)))

    @delete("/{item_id:uuid}", status_code=200)
    async def retire_item(self, item_id: FromPath[uuid.UUID], session: Session) -> ItemOut:
        """Retire an item (kept for history, left out of the next version)."""
        return item_out(await store.retire_item(session, item_id))
