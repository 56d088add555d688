"""HTTP controllers of the placement service."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
import numpy as np
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter, QueryParameter
from litestar.response import Stream
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, allow
from services.common.db import utcnow
from services.common.errors import Problem, not_found
from services.common.idempotency import HEADER, idempotency_key
from services.common.pagination import MAX_LIMIT, Page, decode_cursor, page
from services.placement import bank as bank_rules
from services.placement import diagnostic
from services.placement.engine.calibration import calibrate_cells
from services.placement.models import BankVersion, CalibrationRun, Item, RetakeGrant, VersionItem
from services.placement.schemas import (
    AnswerIn,
    AnswerOut,
    BankVersionOut,
    CalibratedItem,
    CalibrationIn,
    CalibrationOut,
    Distribution,
    DomainSummary,
    GrantIn,
    GrantOut,
    ImportReport,
    ItemIn,
    ItemOut,
    ItemPatch,
    ItemStat,
    PublishIn,
    ResultOut,
    SessionOut,
    StatsOut,
    UsedItem,
)

Limit = Parameter(ge=1, le=MAX_LIMIT, default=50, description="Page size.")
JSON_MEDIA = "application/json"


def item_out(item: Item) -> ItemOut:
    return ItemOut(
        id=item.id,
        code=item.code,
        domain=item.domain,
        stem=item.stem,
        options=item.options,
        answer=item.answer,
        a=item.a,
        b=item.b,
        c=item.c,
        status=item.status,
        calibrated=item.calibrated,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def version_out(v: BankVersion) -> BankVersionOut:
    assert v.id is not None
    return BankVersionOut(
        id=v.public_id,
        number=v.id,
        active=v.active,
        calibrated=v.calibrated,
        item_count=v.item_count,
        domains=list(v.domains),
        note=v.note,
        sessions_started=v.sessions_started,
        published_by=v.published_by,
        published_at=v.published_at,
    )


def _validate_one(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return bank_rules.validate_rows([raw])[0]
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
    """Items in code order, read in batches of 500 on a session of the stream's own."""
    maker = request.app.state.sessionmaker

    async def rows() -> AsyncIterator[str]:
        after = ""
        first = True
        if fmt == "json":
            yield "["
        async with maker() as s:
            while True:
                query = select(Item).where(col(Item.code) > after).order_by(col(Item.code)).limit(500)
                batch = list((await s.execute(query)).scalars())
                for item in batch:
                    row = bank_rules.export_row(item)
                    if fmt == "json":
                        yield ("" if first else ",") + "\n" + json.dumps(row, ensure_ascii=False)
                    else:
                        yield bank_rules.csv_line(row, header=first)
                    first = False
                if len(batch) < 500:
                    break
                after = batch[-1].code
        if fmt == "json":
            yield "\n]\n"
        elif first:
            yield ",".join(bank_rules.FIELDS) + "\n"

    return Stream(
        rows(),
        media_type="text/csv" if fmt == "csv" else JSON_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="item-bank.{fmt}"'},
    )


class ItemController(Controller):
    path = "/v1/items"
    tags = ["item bank"]
    guards = [allow("admin")]

    @post("/")
    async def create_item(self, data: JSONBody[ItemIn], session: AsyncSession) -> Response[ItemOut]:
        """Create an item. Idempotent on ``code``: the same item again answers 200 with it;
        a different item under an existing code is a 409."""
        values = _validate_one(msgspec.to_builtins(data))
        existing = (await session.execute(select(Item).where(col(Item.code) == values["code"]))).scalar_one_or_none()
        if existing is not None:
            if bank_rules.export_row(existing) == values:
                return Response(item_out(existing), status_code=200)
            raise Problem(409, "duplicate-code", f"An item with code {values['code']!r} exists; PATCH it instead.")
        item = Item(**values)
        session.add(item)
        await session.commit()
        return Response(item_out(item), status_code=201)

    @get("/")
    async def list_items(
        self,
        session: AsyncSession,
        limit: int = Limit,
        cursor: str | None = None,
        domain: str | None = None,
        item_status: Annotated[str | None, QueryParameter(name="status")] = None,
    ) -> Page[ItemOut]:
        """Items ordered by code (keyset pagination)."""
        after = decode_cursor(cursor)
        query = select(Item).order_by(col(Item.code)).limit(limit + 1)
        if after is not None:
            query = query.where(col(Item.code) > str(after))
        if domain:
            query = query.where(col(Item.domain) == domain)
        if item_status:
            query = query.where(col(Item.status) == item_status)
        rows = [item_out(i) for i in (await session.execute(query)).scalars()]
        return page(rows, limit, lambda r: r.code)

    @get("/export", media_type=JSON_MEDIA)
    async def export_items_json(self, request: Request[Any, Any, Any]) -> Stream:
        """Stream every item in the import format, as a JSON list."""
        return _export(request, "json")

    @get("/export.csv", media_type="text/csv")
    async def export_items_csv(self, request: Request[Any, Any, Any]) -> Stream:
        """Stream every item in the import format, as CSV (stem and options as JSON cells)."""
        return _export(request, "csv")

    @post("/import", status_code=200)
    async def import_items(self, request: Request[Any, Any, Any], session: AsyncSession) -> ImportReport:
        """Bulk import (JSON list, or CSV with Content-Type text/csv), upserting by ``code``.
        All-or-nothing: any bad row rejects the whole file with every problem listed
        (row number, field, reason); rows count from 1 (CSV: the first line after the header)."""
        body = await request.body()
        kind = request.headers.get("content-type", "")
        try:
            raw = bank_rules.parse_csv(body) if "csv" in kind else bank_rules.parse_json(body)
            rows = bank_rules.validate_rows(raw)
        except bank_rules.ImportErrors as exc:
            raise Problem(
                422,
                "invalid-import",
                f"The import was rejected and nothing was written: {len(exc.errors)} problem(s); fix every listed row.",
                title="Invalid import",
                errors=exc.errors,
            ) from exc
        existing = {
            i.code: i
            for i in (
                await session.execute(select(Item).where(col(Item.code).in_([r["code"] for r in rows])))
            ).scalars()
        }
        created = updated = unchanged = 0
        now = utcnow()
        for row in rows:
            item = existing.get(row["code"])
            if item is None:
                session.add(Item(**row, created_at=now, updated_at=now))
                created += 1
            elif bank_rules.export_row(item) == row:
                unchanged += 1
            else:
                for key, value in row.items():
                    setattr(item, key, value)
                item.updated_at = now
                updated += 1
        await session.commit()
        return ImportReport(created=created, updated=updated, unchanged=unchanged, total=len(rows))

    @get("/{item_id:uuid}")
    async def get_item(self, item_id: uuid.UUID, session: AsyncSession) -> ItemOut:
        """One item, with its parameters and status."""
        item = await session.get(Item, item_id)
        if item is None:
            raise not_found("item", item_id)
        return item_out(item)

    @patch("/{item_id:uuid}")
    async def update_item(self, item_id: uuid.UUID, data: JSONBody[ItemPatch], session: AsyncSession) -> ItemOut:
        """Change an item. Published versions keep their frozen copy; publish again to use it."""
        item = await session.get(Item, item_id, with_for_update=True)
        if item is None:
            raise not_found("item", item_id)
        merged = bank_rules.export_row(item)
        merged.update({k: v for k, v in msgspec.to_builtins(data).items() if v is not None})
        values = _validate_one(merged)
        for key, value in values.items():
            setattr(item, key, value)
        item.updated_at = utcnow()
        await session.commit()
        return item_out(item)

    @delete("/{item_id:uuid}", status_code=200)
    async def retire_item(self, item_id: uuid.UUID, session: AsyncSession) -> ItemOut:
        """Retire an item (it stays for history; the next published version leaves it out)."""
        item = await session.get(Item, item_id, with_for_update=True)
        if item is None:
            raise not_found("item", item_id)
        if item.status != "retired":
            item.status = "retired"
            item.updated_at = utcnow()
            await session.commit()
        return item_out(item)


async def publish(
    session: AsyncSession, by: str, note: str, calibrated: bool | None = None
) -> tuple[BankVersion, bool]:
    """Publish the current non-retired items as the active version; the same content again
    re-activates the existing version instead of creating a copy. Returns (version, created)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(8001001)"))
    items = list(
        (await session.execute(select(Item).where(col(Item.status) != "retired").order_by(col(Item.code)))).scalars()
    )
    if not any(i.status == "active" for i in items):
        raise Problem(409, "empty-bank", "There are no active items to publish; import or create items first.")
    rows = [{**bank_rules.export_row(i), "id": str(i.id)} for i in items]
    digest = bank_rules.snapshot_hash(rows)
    existing = (
        await session.execute(select(BankVersion).where(col(BankVersion.content_hash) == digest))
    ).scalar_one_or_none()
    await session.execute(update(BankVersion).where(col(BankVersion.active)).values(active=False))
    if existing is not None:
        existing.active = True
        await session.flush()
        return existing, False
    domains = [d for d in bank_rules.DOMAINS if any(i.domain == d for i in items)]
    version = BankVersion(
        content_hash=digest,
        note=note,
        domains=domains,
        active=True,
        calibrated=all(i.calibrated for i in items if i.status == "active") if calibrated is None else calibrated,
        item_count=len(items),
        published_by=by,
    )
    session.add(version)
    await session.flush()
    assert version.id is not None
    for idx, item in enumerate(items):
        session.add(
            VersionItem(
                version_id=version.id,
                idx=idx,
                item_id=item.id,
                code=item.code,
                domain=item.domain,
                stem=item.stem,
                options=item.options,
                answer=item.answer,
                a=item.a,
                b=item.b,
                c=item.c,
                pretest=item.status == "pretest",
            )
        )
    await session.flush()
    return version, True


class VersionController(Controller):
    path = "/v1/bank/versions"
    tags = ["item bank"]
    guards = [allow("admin")]

    @post("/")
    async def publish_version(
        self, session: AsyncSession, principal: Principal, data: JSONBody[PublishIn | None] = None
    ) -> Response[BankVersionOut]:
        """Publish the bank as an immutable version and make it active for new sessions.
        Idempotent on content: publishing unchanged items answers 200 with the existing version."""
        version, created = await publish(session, principal.sub, data.note if data else "")
        await session.commit()
        return Response(version_out(version), status_code=201 if created else 200)

    @get("/")
    async def list_versions(
        self, session: AsyncSession, limit: int = Limit, cursor: str | None = None
    ) -> Page[BankVersionOut]:
        """Versions, newest first."""
        after = decode_cursor(cursor)
        query = select(BankVersion).order_by(col(BankVersion.id).desc()).limit(limit + 1)
        if after is not None:
            query = query.where(col(BankVersion.id) < int(after))
        rows = [version_out(v) for v in (await session.execute(query)).scalars()]
        return page(rows, limit, lambda r: r.number)

    @get("/{number:int}")
    async def get_version(self, number: int, session: AsyncSession) -> BankVersionOut:
        """One published bank version."""
        version = await session.get(BankVersion, number)
        if version is None:
            raise not_found("bank version", number)
        return version_out(version)


def _versions(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.placement_versions


class SessionController(Controller):
    path = "/v1/sessions"
    tags = ["diagnostic"]
    guards = [allow("learner")]

    @post("/")
    async def start_session(self, request: Request[Any, Any, Any], principal: Principal) -> Response[SessionOut]:
        """Start a diagnostic (201), or resume the one already open (200): at most one per official.
        After a completed diagnostic a retake waits for the cooldown unless an admin granted one."""
        out, created = await diagnostic.start(
            request.app.state.pool, _versions(request), request.app.state.settings, principal
        )
        return Response(out, status_code=201 if created else 200)

    @get("/{session_id:uuid}")
    async def get_session(
        self, request: Request[Any, Any, Any], session_id: uuid.UUID, session: AsyncSession, principal: Principal
    ) -> SessionOut:
        """Your session, with the current item while it is active (never the key or parameters)."""
        return await diagnostic.get(session, _versions(request), request.app.state.settings, principal, session_id)

    @post(
        "/{session_id:uuid}/answers",
        status_code=200,
        responses={200: ResponseSpec(data_container=AnswerOut, description="The answer is recorded.")},
    )
    async def answer_item(
        self,
        request: Request[Any, Any, Any],
        session_id: uuid.UUID,
        data: JSONBody[AnswerIn],
        principal: Principal,
    ) -> Response[bytes]:
        """Answer the current item (its position and item id); get the next item or the result.
        Replaying the same answer returns the first response; a different item or position is a 409."""
        relay = getattr(request.app.state, "relay", None)
        body = await diagnostic.answer_fast(
            request.app.state.pool,
            request.app.state.sessionmaker,
            _versions(request),
            request.app.state.settings,
            principal,
            session_id,
            data,
            relay.wake if relay is not None else None,
        )
        return Response(body, media_type=JSON_MEDIA)


async def _result(session: AsyncSession, where: str, params: dict[str, Any], admin: bool) -> ResultOut:
    row = (
        (
            await session.execute(
                text(f"SELECT {RESULT_COLUMNS} FROM result WHERE {where}"),  # noqa: S608
                params,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise not_found("result", params.get("id"))
    return result_out(row, admin)


def result_out(row: Any, admin: bool) -> ResultOut:
    domains = row["domains"]
    items = row["items"]
    return ResultOut(
        id=row["id"],
        session_id=row["session_id"],
        official_id=row["official_id"],
        level=row["level"],
        ability=row["ability"],
        standard_error=row["standard_error"],
        level_probabilities=list(row["level_probabilities"]),
        domains=[DomainSummary(d, v["items"], v["correct"]) for d, v in domains.items()],
        items=[
            UsedItem(
                position=i["position"],
                item_id=uuid.UUID(i["item_id"]),
                domain=i["domain"],
                scored=i["scored"],
                code=i["code"] if admin else None,
                correct=i["correct"] if admin else None,
            )
            for i in items
        ],
        length=row["length"],
        stop_reason=row["stop_reason"],
        bank_version=row["version_id"],
        completed_at=row["completed_at"],
    )


RESULT_COLUMNS = (
    "id, session_id, official_id, level, ability, standard_error, level_probabilities, domains, items, length, "
    "stop_reason, version_id, completed_at"
)


class ResultController(Controller):
    path = "/v1/results"
    tags = ["results"]

    @get("/{result_id:uuid}", guards=[allow("learner", "admin")])
    async def get_result(self, result_id: uuid.UUID, session: AsyncSession, principal: Principal) -> ResultOut:
        """A result: learners see their own (without per-item correctness), admins any."""
        if principal.has("admin"):
            return await _result(session, "id = :id", {"id": result_id}, True)
        return await _result(session, "id = :id AND official_id = :sub", {"id": result_id, "sub": principal.sub}, False)

    @get("/", guards=[allow("learner", "admin")])
    async def list_results(
        self,
        session: AsyncSession,
        principal: Principal,
        official_id: str | None = None,
        limit: int = Limit,
        cursor: str | None = None,
    ) -> Page[ResultOut]:
        """Results newest first: a learner's own, or (admins) everyone's, optionally for one official."""
        admin = principal.has("admin")
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        if not admin:
            clauses.append("official_id = :sub")
            params["sub"] = principal.sub
        elif official_id:
            clauses.append("official_id = :official")
            params["official"] = official_id
        after = decode_cursor(cursor)
        if after is not None:
            try:
                params["after"] = uuid.UUID(str(after))
            except ValueError as exc:
                raise Problem(400, "invalid-cursor", "The cursor is not one this service issued.") from exc
            clauses.append("id < :after")
        where = " AND ".join(clauses) or "true"
        rows = (
            (
                await session.execute(
                    text(f"SELECT {RESULT_COLUMNS} FROM result WHERE {where} ORDER BY id DESC LIMIT :limit"),  # noqa: S608
                    params,
                )
            )
            .mappings()
            .all()
        )
        return page([result_out(r, admin) for r in rows], limit, lambda r: str(r.id))


class AdminController(Controller):
    path = "/v1/admin"
    tags = ["administration"]
    guards = [allow("admin")]

    @post("/officials/{official_id:str}/retake-grants")
    async def grant_retake(
        self, official_id: str, session: AsyncSession, principal: Principal, data: JSONBody[GrantIn | None] = None
    ) -> Response[GrantOut]:
        """Let an official retake the diagnostic before the cooldown ends (once). Idempotent: while
        a grant is unused, granting again answers 200 with it."""
        if not official_id or len(official_id) > 200:
            raise Problem(400, "validation", "official_id must be 1-200 characters.")
        row = (
            await session.execute(
                text(
                    "INSERT INTO retake_grant (id, official_id, granted_by, reason, granted_at) "
                    "VALUES (:id, :official, :by, :reason, :now) "
                    "ON CONFLICT (official_id) WHERE used_at IS NULL DO NOTHING RETURNING id"
                ),
                {
                    "id": diagnostic.uuid7(),
                    "official": official_id,
                    "by": principal.sub,
                    "reason": data.reason if data else "",
                    "now": utcnow(),
                },
            )
        ).first()
        await session.commit()
        grant = (
            await session.execute(
                select(RetakeGrant).where(
                    col(RetakeGrant.official_id) == official_id, col(RetakeGrant.used_at).is_(None)
                )
            )
        ).scalar_one()
        out = GrantOut(grant.id, grant.official_id, grant.granted_by, grant.reason, grant.granted_at, grant.used_at)
        return Response(out, status_code=201 if row is not None else 200)

    @get("/stats")
    async def stats(self, session: AsyncSession, version: int | None = None) -> StatsOut:
        """Exposure rate and usage per item, test-length and level distributions, for one bank
        version (default: the active one)."""
        query = (
            select(BankVersion).where(col(BankVersion.id) == version)
            if version
            else select(BankVersion).where(col(BankVersion.active))
        )
        bank_version = (await session.execute(query)).scalar_one_or_none()
        if bank_version is None:
            raise not_found("bank version", version or "active")
        vid = bank_version.id
        started = bank_version.sessions_started
        answered = {
            r.idx: (r.n, r.right)
            for r in (
                await session.execute(
                    text(
                        "SELECT idx, count(*) AS n, count(*) FILTER (WHERE correct) AS right "
                        "FROM response WHERE version_id = :v GROUP BY idx"
                    ),
                    {"v": vid},
                )
            ).all()
        }
        items = []
        for vi in (
            await session.execute(
                select(VersionItem).where(col(VersionItem.version_id) == vid).order_by(col(VersionItem.idx))
            )
        ).scalars():
            n, right = answered.get(vi.idx, (0, 0))
            items.append(
                ItemStat(
                    item_id=vi.item_id,
                    code=vi.code,
                    domain=vi.domain,
                    pretest=vi.pretest,
                    administered=vi.administered,
                    exposure_rate=round(vi.administered / started, 4) if started else 0.0,
                    answered=n,
                    proportion_correct=round(right / n, 4) if n else None,
                )
            )
        lengths = (
            await session.execute(
                text("SELECT length, count(*) FROM result WHERE version_id = :v GROUP BY length ORDER BY length"),
                {"v": vid},
            )
        ).all()
        levels = (
            await session.execute(
                text("SELECT level, count(*) FROM result WHERE version_id = :v GROUP BY level ORDER BY level"),
                {"v": vid},
            )
        ).all()
        completed = sum(c for _, c in levels)
        operational = [i.exposure_rate for i in items if not i.pretest]
        return StatsOut(
            bank_version=vid or 0,
            sessions_started=started,
            sessions_completed=completed,
            max_exposure_rate=max(operational, default=0.0),
            mean_length=round(sum(v * c for v, c in lengths) / completed, 2) if completed else None,
            length_distribution=[Distribution(v, c) for v, c in lengths],
            level_distribution=[Distribution(v, c) for v, c in levels],
            items=sorted(items, key=lambda i: -i.exposure_rate),
        )


def calibration_out(run: CalibrationRun, bank_version: int) -> CalibrationOut:
    return CalibrationOut(
        id=run.id,
        status=run.status,
        model=run.model,
        bank_version=bank_version,
        responses=run.responses,
        examinees=run.examinees,
        iterations=run.iterations,
        converged=run.converged,
        created_by=run.created_by,
        created_at=run.created_at,
        items=[msgspec.convert(i, CalibratedItem) for i in run.items],
        published_version=run.published_version_id,
    )


async def _active_version(session: AsyncSession) -> int:
    active = (await session.execute(select(col(BankVersion.id)).where(col(BankVersion.active)))).scalar_one_or_none()
    return active or 0


class CalibrationController(Controller):
    path = "/v1/calibrations"
    tags = ["calibration"]
    guards = [allow("admin")]

    @post("/")
    async def run_calibration(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: Principal,
        data: JSONBody[CalibrationIn | None] = None,
    ) -> Response[CalibrationOut]:
        """Estimate item parameters from every recorded response (scored and pretest) by marginal
        maximum likelihood (EM). The run is a draft: review old beside new with fit statistics, then
        publish it. Items with fewer than ``min_responses`` answers keep their parameters.
        Send an ``Idempotency-Key`` header to make a retry return the first run (200)."""
        data = data or CalibrationIn()
        key = idempotency_key(request.headers.get(HEADER))
        if key is not None:
            earlier = (
                await session.execute(select(CalibrationRun).where(col(CalibrationRun.idempotency_key) == key))
            ).scalar_one_or_none()
            if earlier is not None:
                return Response(calibration_out(earlier, await _active_version(session)), status_code=200)
        items = list(
            (
                await session.execute(select(Item).where(col(Item.status) != "retired").order_by(col(Item.code)))
            ).scalars()
        )
        active = (
            await session.execute(select(col(BankVersion.id)).where(col(BankVersion.active)))
        ).scalar_one_or_none()
        rows = (
            await session.execute(text("SELECT session_id, item_id, correct FROM response ORDER BY session_id"))
        ).all()
        index = {item.id: k for k, item in enumerate(items)}
        people: dict[uuid.UUID, int] = {}
        cells = [
            (people.setdefault(r.session_id, len(people)), index[r.item_id], r.correct)
            for r in rows
            if r.item_id in index
        ]
        if not cells:
            raise Problem(
                409, "no-responses", "No responses have been recorded yet; calibration needs answered sessions."
            )
        # the sparse response matrix as its answered cells (examinee, item, right?)
        person = np.fromiter((x[0] for x in cells), dtype=np.int64, count=len(cells))
        column = np.fromiter((x[1] for x in cells), dtype=np.int64, count=len(cells))
        right = np.fromiter((bool(x[2]) for x in cells), dtype=bool, count=len(cells))
        start = (
            np.array([i.a for i in items]),
            np.array([i.b for i in items]),
            np.array([i.c for i in items]),
        )
        three = data.model == "3pl"
        cal = await asyncio.to_thread(
            calibrate_cells, person, column, right, len(people), len(items), three, start, data.max_iterations
        )
        out_items = []
        for k, item in enumerate(items):
            old = {"a": item.a, "b": item.b, "c": item.c}
            n = int(cal.n[k])
            if n < data.min_responses:
                out_items.append(
                    {
                        "item_id": str(item.id),
                        "code": item.code,
                        "responses": n,
                        "old": old,
                        "new": None,
                        "standard_errors": None,
                        "fit_chi2": None,
                        "fit_df": None,
                        "fit_p_flag": None,
                        "note": f"kept: fewer than {data.min_responses} responses",
                    }
                )
                continue
            chi2, df = float(cal.chi2[k]), int(cal.df[k])
            out_items.append(
                {
                    "item_id": str(item.id),
                    "code": item.code,
                    "responses": n,
                    "old": old,
                    "new": {
                        "a": round(float(cal.a[k]), 4),
                        "b": round(float(cal.b[k]), 4),
                        "c": round(float(cal.c[k]), 4) if three else item.c,
                    },
                    "standard_errors": {
                        "a": round(float(cal.se_a[k]), 4),
                        "b": round(float(cal.se_b[k]), 4),
                        "c": round(float(cal.se_c[k]), 4),
                    },
                    "fit_chi2": round(chi2, 3),
                    "fit_df": df,
                    # a rough flag: chi-square beyond mean + 3 SD of its reference distribution
                    "fit_p_flag": bool(chi2 > df + 3 * (2 * df) ** 0.5),
                    "note": "",
                }
            )
        run = CalibrationRun(
            idempotency_key=key,
            model=data.model,
            created_by=principal.sub,
            responses=len(cells),
            examinees=len(people),
            iterations=cal.iterations,
            converged=cal.converged,
            items=out_items,
        )
        session.add(run)
        try:
            await session.commit()
        except IntegrityError:  # the same key, concurrently: answer with the run that won
            await session.rollback()
            earlier = (
                await session.execute(select(CalibrationRun).where(col(CalibrationRun.idempotency_key) == key))
            ).scalar_one()
            return Response(calibration_out(earlier, await _active_version(session)), status_code=200)
        return Response(calibration_out(run, active or 0), status_code=201)

    @get("/{run_id:uuid}")
    async def get_calibration(self, run_id: uuid.UUID, session: AsyncSession) -> CalibrationOut:
        """One calibration run and its proposed parameters."""
        run = await session.get(CalibrationRun, run_id)
        if run is None:
            raise not_found("calibration run", run_id)
        active = (
            await session.execute(select(col(BankVersion.id)).where(col(BankVersion.active)))
        ).scalar_one_or_none()
        return calibration_out(run, active or 0)

    @post("/{run_id:uuid}/publish", status_code=200)
    async def publish_calibration(
        self, run_id: uuid.UUID, session: AsyncSession, principal: Principal
    ) -> CalibrationOut:
        """Apply the run's new parameters to the items and publish them as a new bank version.
        Idempotent: publishing a published run returns it unchanged."""
        run = await session.get(CalibrationRun, run_id, with_for_update=True)
        if run is None:
            raise not_found("calibration run", run_id)
        if run.status == "draft":
            now = utcnow()
            for entry in run.items:
                if entry["new"] is None:
                    continue
                item = await session.get(Item, uuid.UUID(entry["item_id"]), with_for_update=True)
                if item is None or item.status == "retired":
                    continue
                item.a, item.b, item.c = entry["new"]["a"], entry["new"]["b"], entry["new"]["c"]
                item.calibrated = True
                if item.status == "pretest":
                    item.status = "active"
                item.updated_at = now
            await session.flush()
            version, _ = await publish(session, principal.sub, f"calibration {run.id}")
            run.status = "published"
            run.published_version_id = version.id
            await session.commit()
        active = (
            await session.execute(select(col(BankVersion.id)).where(col(BankVersion.active)))
        ).scalar_one_or_none()
        return calibration_out(run, active or 0)


ROUTES = [
    ItemController,
    VersionController,
    SessionController,
    ResultController,
    AdminController,
    CalibrationController,
]
