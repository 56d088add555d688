"""`lms demo`: one official's journey, thirty times over, across the three running services.

Everything goes over HTTP with tokens minted for each role: an admin publishes nothing new but
reads the item bank (to simulate examinees) and runs cohorts; thirty officials of varied ability
take the adaptive diagnostic and are placed; they are enrolled in small cohorts (some end up
waitlisted); an instructor records attendance; module events arrive duplicated and out of order;
levels complete; certificates are issued; an HR client syncs the feed and receives signed
webhooks; every certificate verifies against the published key set; one is revoked and the HR
client sees it. `tests/e2e/test_journey.py` runs the same journey against real processes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.web.domain.personas import PERSONAS

Mint = Callable[..., str]  # mint(role, sub=..., name=..., org=...) -> bearer token
SEOUL = ZoneInfo("Asia/Seoul")
ORGS = ("SEOUL-DATA", "SEOUL-FIN", "SEOUL-WELFARE", "SEOUL-TRAFFIC")


class DemoError(RuntimeError):
    pass


@dataclass
class Official:
    id: str
    name: str
    org: str
    ability: float
    level: int = -1
    result_id: str = ""
    items: int = 0
    enrolment: str = ""
    certificate_id: str = ""
    serial: str = ""


@dataclass
class Summary:
    officials: list[Official] = field(default_factory=list)
    enrolled: int = 0
    waitlisted: int = 0
    promoted: int = 0
    events_sent: int = 0
    events_duplicates: int = 0
    levels_completed: int = 0
    certificates: int = 0
    feed_items: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    verified: int = 0
    revoked_serial: str = ""
    revocation_seen_in_feed: bool = False
    revocation_seen_by_webhook: bool = False
    revocation_verified: str = ""


class Client:
    """Calls one of the three services as some role; any unexpected status is a DemoError."""

    def __init__(self, bases: dict[str, str], mint: Mint) -> None:
        self.bases, self.mint = bases, mint
        self.http = httpx.AsyncClient(timeout=30)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        expect: tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.http.request(method, self.bases[service] + path, json=json, headers=sent)
        if response.status_code not in expect:
            raise DemoError(f"{method} {service}{path} answered {response.status_code}: {response.text[:400]}")
        return response.json() if response.content else None

    async def aclose(self) -> None:
        await self.http.aclose()


# --- the HR system's webhook receiver --------------------------------------------------------


class HookReceiver:
    """A stand-in HR system: receives webhooks and checks their Standard Webhooks signature."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.bad = 0

    def valid(self, headers: dict[str, str], body: bytes) -> bool:
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        offered = [s.partition(",")[2] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
        return any(hmac.compare_digest(expected, o) for o in offered)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if self.valid(headers, body):
            import json

            self.received.append({"id": headers["webhook-id"], **json.loads(body)})
            status = 204
        else:
            self.bad += 1
            status = 401
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def serve_receiver(receiver: HookReceiver) -> AsyncIterator[str]:
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(receiver, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hooks/lms"
    finally:
        server.should_exit = True
        await task


# --- the journey -------------------------------------------------------------------------------


def abilities(n: int, rng: random.Random) -> list[float]:
    """Spread across the scale so every level is represented, with some noise."""
    return [round(-2.4 + 4.8 * (i + 0.5) / n + rng.gauss(0, 0.25), 2) for i in range(n)]


async def item_bank(client: Client, admin: str) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        query = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
        page = await client.call("placement", "GET", f"/v1/items{query}", admin)
        items.update({item["id"]: item for item in page["items"]})
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def respond(item: dict[str, Any], ability: float, rng: random.Random) -> int:
    """A simulated examinee's choice under the item's own 3PL parameters."""
    p = item["c"] + (1 - item["c"]) / (1 + math.exp(-item["a"] * (ability - item["b"])))
    if rng.random() < p:
        return int(item["answer"])
    return rng.choice([i for i in range(len(item["options"])) if i != item["answer"]])


async def take_diagnostic(client: Client, official: Official, bank: dict[str, Any], rng: random.Random) -> None:
    token = client.mint("learner", sub=official.id, name=official.name, org=official.org)
    session = await client.call("placement", "POST", "/v1/sessions", token)
    current = session["current_item"]
    while current is not None:
        choice = respond(bank[current["item_id"]], official.ability, rng)
        answer = {"position": current["position"], "item_id": current["item_id"], "choice": choice}
        out = await client.call("placement", "POST", f"/v1/sessions/{session['id']}/answers", token, json=answer)
        official.items = out["answered"]
        current = out.get("next_item")
        if out.get("result"):
            official.level = out["result"]["level"]
            official.result_id = out["result"]["id"]
    if official.level < 0:
        raise DemoError(f"{official.name}'s diagnostic ended without a result")


async def wait_for(check: Callable[[], Any], what: str, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


def required_modules(curriculum: dict[str, Any], level: int) -> list[dict[str, Any]]:
    spec = next(lv for lv in curriculum["levels"] if lv["level"] == level)
    return [m for course in spec["courses"] for m in course["modules"] if m["required"] or m.get("final")]


def module_events(official: Official, modules: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """What e-learning content reports for one official: each required module met by its rule."""
    events = []
    base = datetime.now(UTC) - timedelta(hours=6)
    for i, module in enumerate(modules):
        at = (base + timedelta(minutes=10 * i + rng.randint(0, 5))).isoformat()
        verbs = {
            "completed": ["completed"],
            "passed": ["passed"],
            "completed_and_passed": ["completed", "passed"],
            "attended": ["attended"],
        }.get(module["rule"], ["completed"])
        for verb in verbs:
            event: dict[str, Any] = {
                "id": f"{official.id}:{module['code']}:{verb}",
                "official_id": official.id,
                "module": module["code"],
                "verb": verb,
                "occurred_at": at,
            }
            if verb == "passed":
                event["score"] = float(max(module.get("min_score") or 0, 70) + rng.randint(5, 20))
                event["score"] = min(event["score"], 100.0)
            events.append(event)
    return events


async def run_cohort(
    client: Client,
    admin: str,
    instructor: tuple[str, str],
    level: int,
    group: list[Official],
    seats: int,
    run: str,
    rng: random.Random,
) -> str:
    """A two-day cohort that started yesterday: the admin enrols ``group`` (beyond ``seats`` they
    are waitlisted) and the instructor records both days for those enrolled. Returns its id."""
    today = datetime.now(SEOUL).date()  # sessions are scheduled where people are
    instructor_id, instructor_token = instructor
    cohort = await client.call(
        "progress",
        "POST",
        "/v1/sessions",
        admin,
        json={
            "level": level,
            "title": f"Demo cohort L{level} ({run})",
            "days": [(today - timedelta(days=1)).isoformat(), today.isoformat()],
            "seats": seats,
            "place": "City Hall, Room 301",
            "instructor_id": instructor_id,
        },
    )
    for official in group:
        enrolment = await client.call(
            "progress",
            "POST",
            f"/v1/sessions/{cohort['id']}/enrolments",
            admin,
            json={"official_id": official.id, "override_reason": "demo: a cohort that is already running"},
            headers={"Idempotency-Key": f"demo-{run}-{official.id}"},
        )
        official.enrolment = enrolment["status"]
    present = [o for o in group if o.enrolment == "enrolled"]
    for day in (today - timedelta(days=1), today):
        roster = [{"official_id": o.id, "status": "present" if rng.random() > 0.1 else "late"} for o in present]
        await client.call(
            "progress",
            "PUT",
            f"/v1/sessions/{cohort['id']}/attendance/{day.isoformat()}",
            instructor_token,
            json={"records": roster},
        )
    return str(cohort["id"])


async def send_events(client: Client, token: str, events: list[dict[str, Any]]) -> tuple[int, int]:
    """POST events in batches of 100 (ids unique within a batch); returns (duplicates, completions)."""
    duplicates = completions = 0
    for start in range(0, len(events), 100):
        batch = events[start : start + 100]
        ids = [e["id"] for e in batch]
        unique = [e for i, e in enumerate(batch) if e["id"] not in ids[:i]]
        result = await client.call("progress", "POST", "/v1/events", token, json={"events": unique})
        duplicates += result["duplicates"]
        completions += len(result["completed_levels"])
    return duplicates, completions


async def run_journey(
    bases: dict[str, str], mint: Mint, *, officials: int = 30, seed: int = 7, console: Console | None = None
) -> Summary:
    rng = random.Random(seed)
    out = console or Console(quiet=True)
    client = Client(bases, mint)
    summary = Summary()
    admin = mint("admin", sub="admin-demo", name="Demo Admin", org="SEOUL-HR")
    instructor_id = PERSONAS["instructor"].sub  # the web app's development persona teaches the cohorts
    instructor = mint("instructor", sub=instructor_id, name=PERSONAS["instructor"].name)
    hr = mint("hr", sub="hr-system", name="City HR")
    run = uuid.uuid4().hex[:6]
    people = [
        Official(f"official-{run}-{i:02d}", f"Official {i:02d}", ORGS[i % len(ORGS)], ability)
        for i, ability in enumerate(abilities(officials, rng))
    ]
    learner = PERSONAS["learner"]
    earlier = await client.call("placement", "GET", f"/v1/results?official_id={learner.sub}", admin)
    if not earlier["items"]:  # the first demo gives the web app's learner persona a whole journey to look at
        people[1] = Official(learner.sub, learner.name, learner.org, people[1].ability)
    summary.officials = people
    receiver = HookReceiver()
    subscription: dict[str, Any] = {}
    try:
        async with serve_receiver(receiver) as hook_url:
            subscription = await client.call(
                "certification",
                "POST",
                "/v1/webhooks/subscriptions",
                hr,
                json={"url": hook_url, "event_types": ["certificate.issued", "certificate.revoked"]},
            )
            receiver.secret = subscription["secret"]
            start = await client.call("certification", "GET", "/v1/certificates?limit=500", hr)
            cursor = start["next_cursor"]
            while start["has_more"]:  # skip what was there before this run
                start = await client.call("certification", "GET", f"/v1/certificates?limit=500&cursor={cursor}", hr)
                cursor = start["next_cursor"]

            bank = await item_bank(client, admin)
            out.print(f"Item bank: {len(bank)} items. {officials} officials take the adaptive diagnostic.")
            with Progress(console=out, transient=True) as bar:
                task = bar.add_task("diagnostics", total=len(people))
                for official in people:
                    await take_diagnostic(client, official, bank, rng)
                    bar.advance(task)

            async def all_placed() -> bool:
                for official in people:
                    await client.call("progress", "GET", f"/v1/officials/{official.id}/path", admin)
                return True

            async def placed_or_none() -> bool:
                try:
                    return await all_placed()
                except DemoError:
                    return False

            await wait_for(placed_or_none, "progress to receive every placement")
            out.print("Every placement reached progress (placement -> progress over the outbox).")

            curriculum = await client.call("progress", "GET", "/v1/curricula/current", admin)
            by_level: dict[int, list[Official]] = {}
            for official in people:
                by_level.setdefault(official.level, []).append(official)
            for level, group in sorted(by_level.items()):
                seats = max(1, len(group) - 1)  # one seat too few, so someone waits
                await run_cohort(client, admin, (instructor_id, instructor), level, group, seats, run, rng)
            summary.enrolled = sum(o.enrolment == "enrolled" for o in people)
            summary.waitlisted = sum(o.enrolment == "waitlisted" for o in people)
            out.print(f"Cohorts: {summary.enrolled} enrolled, {summary.waitlisted} waitlisted; attendance recorded.")

            events: list[dict[str, Any]] = []
            for official in people:
                if official.enrolment == "enrolled":
                    events += module_events(official, required_modules(curriculum, official.level), rng)
            replayed = events + rng.sample(events, k=len(events) // 3)  # duplicates ...
            rng.shuffle(replayed)  # ... and out of order
            summary.events_sent = len(replayed)
            summary.events_duplicates, summary.levels_completed = await send_events(client, admin, replayed)
            out.print(
                f"Learning events: {summary.events_sent} sent, {summary.events_duplicates} recognised as duplicates, "
                f"{summary.levels_completed} levels completed."
            )

            finishers = [o for o in people if o.enrolment == "enrolled"]

            async def certificates_issued() -> bool:
                for official in finishers:
                    if official.serial:
                        continue
                    path = await client.call("progress", "GET", f"/v1/officials/{official.id}/path", admin)
                    for cert in path["certificates"]:
                        if cert["level"] == official.level and cert["serial"]:
                            official.serial, official.certificate_id = cert["serial"], str(cert["certificate_id"])
                return all(o.serial for o in finishers)

            await wait_for(certificates_issued, "certificates for every completed level")
            summary.certificates = len(finishers)

            async def feed_has(predicate: Callable[[list[dict[str, Any]]], bool]) -> bool:
                nonlocal cursor
                while True:
                    page = await client.call("certification", "GET", f"/v1/certificates?limit=100&cursor={cursor}", hr)
                    summary.feed_items += page["items"]
                    cursor = page["next_cursor"]
                    if not page["has_more"]:
                        return predicate(summary.feed_items)

            mine = {o.certificate_id for o in finishers}
            await wait_for(lambda: feed_has(lambda items: mine <= {i["certificate_id"] for i in items}), "the HR feed")

            def issued_hooks() -> bool:
                return mine <= {str(w.get("data", {}).get("id")) for w in receiver.received}

            await wait_for(lambda: asyncio.sleep(0, issued_hooks()), "webhooks for every certificate")
            out.print(f"HR: {len(summary.feed_items)} feed items synced, {len(receiver.received)} signed webhooks.")

            jwks = await client.call("certification", "GET", "/.well-known/jwks.json", None)
            keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
            for official in finishers:
                record = await client.call("certification", "GET", f"/v1/certificates/{official.certificate_id}", hr)
                token = record["credential"]
                key = keys[jwt.get_unverified_header(token)["kid"]]
                claims = jwt.decode(token, key, algorithms=["EdDSA"], options={"verify_aud": False})
                check = await client.call("certification", "GET", f"/v1/verify/{official.serial}", None)
                if claims["jti"] and check["status"] == "valid":
                    summary.verified += 1

            revoked = finishers[0]
            await client.call(
                "certification",
                "POST",
                f"/v1/admin/certificates/{revoked.certificate_id}/revoke",
                admin,
                json={"reason": "Demo: issued against the wrong record"},
            )
            summary.revoked_serial = revoked.serial

            def saw_revocation(items: list[dict[str, Any]]) -> bool:
                return any(i["event"].endswith("revoked") and i["serial"] == revoked.serial for i in items)

            await wait_for(lambda: feed_has(saw_revocation), "the revocation in the HR feed")
            summary.revocation_seen_in_feed = True

            def hook_revocation() -> bool:
                return any(
                    w.get("type") == "certificate.revoked" and w.get("data", {}).get("serial") == revoked.serial
                    for w in receiver.received
                )

            await wait_for(lambda: asyncio.sleep(0, hook_revocation()), "the revocation webhook")
            summary.revocation_seen_by_webhook = True
            check = await client.call("certification", "GET", f"/v1/verify/{revoked.serial}", None)
            summary.revocation_verified = check["status"]
            summary.webhooks = receiver.received
            summary.bad_signatures = receiver.bad
    finally:
        if subscription.get("id"):  # the receiver is gone: leave no subscription pointing at it
            with contextlib.suppress(DemoError, httpx.HTTPError):
                await client.call(
                    "certification", "DELETE", f"/v1/webhooks/subscriptions/{subscription['id']}", hr, expect=(204,)
                )
        await client.aclose()
    return summary


def print_summary(summary: Summary, console: Console) -> None:
    table = Table(title="Officials (true abilities are simulated; services see only answers)")
    for column in ("official", "org", "true ability (simulated)", "items", "level", "cohort"):
        table.add_column(column, overflow="fold")
    widest = max((len(o.serial) for o in summary.officials), default=1)
    table.add_column("certificate", no_wrap=True, min_width=widest)  # serials are never cut
    for o in summary.officials:
        table.add_row(o.name, o.org, f"{o.ability:+.2f}", str(o.items), f"L{o.level}", o.enrolment, o.serial or "-")
    console.print(table)
    totals = Table(title="Journey")
    totals.add_column("step")
    totals.add_column("result", justify="right")
    for step, value in (
        ("placed", len(summary.officials)),
        ("enrolled / waitlisted", f"{summary.enrolled} / {summary.waitlisted}"),
        ("events sent / duplicates recognised", f"{summary.events_sent} / {summary.events_duplicates}"),
        ("levels completed", summary.levels_completed),
        ("certificates issued", summary.certificates),
        ("verified against the published key set", summary.verified),
        (
            "HR feed items / signed webhooks (bad signatures)",
            f"{len(summary.feed_items)} / {len(summary.webhooks)} ({summary.bad_signatures})",
        ),
        ("revoked", summary.revoked_serial),
        (
            "revocation seen in feed / webhook",
            f"{summary.revocation_seen_in_feed} / {summary.revocation_seen_by_webhook}",
        ),
        ("verification of the revoked certificate", summary.revocation_verified),
    ):
        totals.add_row(step, str(value))
    console.print(totals)
