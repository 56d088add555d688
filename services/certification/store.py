"""Certificate state changes, each in one transaction with its audit row, its HR-feed change row
and its webhook deliveries. Handlers call these and then commit."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification.domain import credential as vc
from services.certification.domain.serial import RANDOM_DIGITS, make_serial, unguessable_number
from services.certification.domain.statuslist import LIST_BITS, list_for
from services.certification.keyring import KeyRing
from services.certification.models import Audit, Certificate, Change
from services.certification.settings import Settings
from services.common.auth import Principal
from services.common.db import utcnow, uuid7
from services.common.errors import Problem

CERT = Certificate.__table__  # type: ignore[attr-defined]
CHANGE = Change.__table__  # type: ignore[attr-defined]
AUDIT = Audit.__table__  # type: ignore[attr-defined]


@dataclass
class Issuer:
    settings: Settings
    keyring: KeyRing
    serial_block: int = 20
    _serials: list[int] = field(default_factory=list)

    async def next_serial(self, session: AsyncSession) -> int:
        """The next serial number from a per-process block taken from the database sequence (one
        round trip per block; numbers left unused when a process stops are simply skipped)."""
        if not self._serials:
            rows = await session.execute(
                text("SELECT nextval('certificate_serial_seq') FROM generate_series(1, :n)"), {"n": self.serial_block}
            )
            self._serials.extend(sorted((int(r[0]) for r in rows), reverse=True))
        return self._serials.pop()

    @property
    def base(self) -> str:
        return self.settings.public_url

    def verify_url(self, serial: str) -> str:
        return f"{self.base}/verify/{serial}"

    def record_url(self, cert_id: uuid.UUID | str) -> str:
        return f"{self.base}/v1/certificates/{cert_id}"


CURRENT = text(
    "SELECT * FROM certificate WHERE official_id = :official_id AND level = :level AND superseded_by_id IS NULL"
)


async def current_for(session: AsyncSession, official_id: str, level: int) -> Row[Any] | None:
    return (await session.execute(CURRENT, {"official_id": official_id, "level": level})).first()


async def get(session: AsyncSession, cert_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    stmt = select(CERT).where(CERT.c.id == cert_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def _signed_row(
    issuer: Issuer,
    *,
    serial_no: int,
    official_id: str,
    name: str,
    org: str,
    level: int,
    completed_at: datetime,
    curriculum_version: str,
    origin: str,
    supersedes_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    settings = issuer.settings
    cert_id = uuid7()
    issued_at = utcnow().replace(microsecond=0)
    valid_until = issued_at + timedelta(days=settings.validity_days) if settings.validity_days > 0 else None
    number = unguessable_number(serial_no, secrets.randbelow(10**RANDOM_DIGITS))
    serial = make_serial(settings.serial_prefix, issued_at.year, level, number)
    list_no = list_for(serial_no)
    index = secrets.randbelow(LIST_BITS)
    facts = vc.CertificateFacts(cert_id, serial, official_id, name, level, issued_at, valid_until, list_no, index)
    credential = vc.build_credential(
        facts, issuer_url=settings.issuer_url, issuer_name=settings.issuer_name, base_url=issuer.base
    )
    kid, key = await issuer.keyring.signer()
    return {
        "id": cert_id,
        "serial": serial,
        "serial_no": serial_no,
        "official_id": official_id,
        "official_name": name,
        "org": org,
        "level": level,
        "curriculum_version": curriculum_version,
        "completed_at": completed_at,
        "issued_at": issued_at,
        "valid_until": valid_until,
        "status": "active",
        "status_list": list_no,
        "status_index": index,
        "supersedes_id": supersedes_id,
        "origin": origin,
        "kid": kid,
        "vc_jwt": vc.sign(credential, key, kid),
        "created_at": issued_at,
        "updated_at": issued_at,
    }


async def _insert_certificate(session: AsyncSession, issuer: Issuer, **facts: Any) -> Row[Any] | None:
    """Insert a new certificate; None when a current one for (official, level) appeared meanwhile.
    A random status index that collides is drawn again."""
    for _ in range(20):
        serial_no = await issuer.next_serial(session)
        values = await _signed_row(issuer, serial_no=serial_no, **facts)
        inserted = (
            await session.execute(insert(CERT).values(**values).on_conflict_do_nothing().returning(*CERT.c))
        ).first()
        if inserted is not None:
            return inserted
        if await current_for(session, facts["official_id"], facts["level"]) is not None:
            return None
    raise Problem(503, "status-list-full", "Could not assign a status-list index; try again.")


def _actor(principal: Principal) -> tuple[str, str]:
    return principal.sub[:128], " ".join(sorted(principal.roles))[:128]


async def audit(
    session: AsyncSession,
    cert_id: uuid.UUID,
    action: str,
    principal: Principal,
    reason: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    actor, roles = _actor(principal)
    await session.execute(
        insert(AUDIT).values(
            certificate_id=cert_id,
            action=action,
            actor=actor,
            actor_roles=roles,
            reason=reason,
            at=utcnow(),
            details=details or {},
        )
    )


RECORD = text(
    "WITH a AS ("
    " INSERT INTO audit (certificate_id, action, actor, actor_roles, reason, at, details)"
    " VALUES (:a_cid, :a_action, :a_actor, :a_roles, :a_reason, :a_at, CAST(:a_details AS jsonb))),"
    " c AS ("
    " INSERT INTO change (xid, event, certificate_id, serial, official_id, official_name, org, level, status,"
    " reason, issued_at, changed_at, supersedes_id)"
    " VALUES (pg_current_xact_id()::text::bigint, :event, :cid, :serial, :official_id, :official_name, :org,"
    " :level, :status, :reason, :issued_at, :changed_at, :supersedes_id) RETURNING seq),"
    " d AS ("
    " INSERT INTO webhook_delivery (id, subscription_id, event, payload, created_at, next_attempt_at, retry_from,"
    " attempts)"
    " SELECT gen_random_uuid(), s.id, :d_event,"
    " jsonb_set(CAST(:d_payload AS jsonb), '{data,change_seq}', to_jsonb(c.seq)), now(), now(), now(), 0"
    " FROM c, webhook_subscription s"
    " WHERE s.enabled AND s.event_types @> jsonb_build_array(CAST(:d_filter AS text)))"
    " SELECT seq FROM c"
)


async def record_change(
    session: AsyncSession,
    issuer: Issuer,
    cert: Row[Any],
    event: str,
    reason: str | None,
    *,
    principal: Principal,
    action: str,
    details: dict[str, Any] | None = None,
) -> int:
    """In one statement: the audit row, the HR-feed change row (stamped with this transaction's id)
    and a webhook delivery for every enabled subscription to the event."""
    now = utcnow()
    actor, roles = _actor(principal)
    event_type = f"certificate.{event}"
    payload = {
        "type": event_type,
        "timestamp": vc.iso(now),
        "data": {
            "id": str(cert.id),
            "serial": cert.serial,
            "status": cert.status,
            "level": cert.level,
            "change_seq": None,
            "url": issuer.record_url(cert.id),
        },
    }
    seq = (
        await session.execute(
            RECORD,
            {
                "a_cid": cert.id,
                "a_action": action,
                "a_actor": actor,
                "a_roles": roles,
                "a_reason": reason,
                "a_at": now,
                "a_details": json.dumps(details or {}),
                "event": event,
                "cid": cert.id,
                "serial": cert.serial,
                "official_id": cert.official_id,
                "official_name": cert.official_name,
                "org": cert.org,
                "level": cert.level,
                "status": cert.status,
                "reason": reason,
                "issued_at": cert.issued_at,
                "changed_at": now,
                "supersedes_id": cert.supersedes_id,
                "d_event": event_type,
                "d_payload": json.dumps(payload),
                "d_filter": event_type,
            },
        )
    ).scalar_one()
    return int(seq)


CERT_COLUMNS = (
    "id, serial, serial_no, official_id, official_name, org, level, curriculum_version, completed_at, issued_at,"
    " valid_until, status, status_list, status_index, supersedes_id, origin, kid, vc_jwt, created_at, updated_at"
)
# Issue in one round trip: the certificate, its audit row, its HR-feed change row (stamped with this
# transaction's id) and its webhook deliveries. On any unique conflict nothing is written and no row
# comes back: either (official, level) already has a certificate, or the random status index was taken.
ISSUE = text(
    f"WITH cert AS (INSERT INTO certificate ({CERT_COLUMNS}) VALUES ("  # noqa: S608 - constant column list
    ":id, :serial, :serial_no, :official_id, :official_name, :org, :level, :curriculum_version, :completed_at,"
    " :issued_at, :valid_until, :status, :status_list, :status_index, :supersedes_id, :origin, :kid, :vc_jwt,"
    " :created_at, :updated_at) ON CONFLICT DO NOTHING RETURNING *),"
    " a AS (INSERT INTO audit (certificate_id, action, actor, actor_roles, reason, at, details)"
    " SELECT cert.id, 'issue', CAST(:a_actor AS varchar), CAST(:a_roles AS varchar), CAST(:a_reason AS text),"
    " cert.created_at, CAST(:a_details AS jsonb) FROM cert),"
    " c AS (INSERT INTO change (xid, event, certificate_id, serial, official_id, official_name, org, level, status,"
    " reason, issued_at, changed_at, supersedes_id)"
    " SELECT pg_current_xact_id()::text::bigint, 'issued', cert.id, cert.serial, cert.official_id,"
    " cert.official_name, cert.org, cert.level, cert.status, CAST(:a_reason AS text), cert.issued_at,"
    " cert.created_at, cert.supersedes_id FROM cert RETURNING seq),"
    " d AS (INSERT INTO webhook_delivery (id, subscription_id, event, payload, created_at, next_attempt_at,"
    " retry_from, attempts)"
    " SELECT gen_random_uuid(), s.id, 'certificate.issued',"
    " jsonb_set(CAST(:d_payload AS jsonb), '{data,change_seq}', to_jsonb(c.seq)), now(), now(), now(), 0"
    " FROM c, webhook_subscription s"
    " WHERE s.enabled AND s.event_types @> '[\"certificate.issued\"]'::jsonb)"
    " SELECT cert.* FROM cert"
)


async def issue(
    session: AsyncSession,
    issuer: Issuer,
    principal: Principal,
    *,
    official_id: str,
    name: str,
    org: str,
    level: int,
    completed_at: datetime,
    curriculum_version: str,
    origin: str,
    reason: str | None = None,
) -> tuple[Row[Any], bool]:
    """(certificate, created). Idempotent per (official, level): a concurrent or repeated call
    returns the existing current certificate with created False."""
    existing = await current_for(session, official_id, level)
    if existing is not None:
        return existing, False
    actor, roles = _actor(principal)
    for _ in range(20):
        values = await _signed_row(
            issuer,
            serial_no=await issuer.next_serial(session),
            official_id=official_id,
            name=name,
            org=org,
            level=level,
            completed_at=completed_at,
            curriculum_version=curriculum_version,
            origin=origin,
        )
        payload = {
            "type": "certificate.issued",
            "timestamp": vc.iso(values["issued_at"]),
            "data": {
                "id": str(values["id"]),
                "serial": values["serial"],
                "status": "active",
                "level": level,
                "change_seq": None,
                "url": issuer.record_url(values["id"]),
            },
        }
        details = {"origin": origin, "serial": values["serial"], "curriculum_version": curriculum_version}
        cert = (
            await session.execute(
                ISSUE,
                {
                    **values,
                    "a_actor": actor,
                    "a_roles": roles,
                    "a_reason": reason,
                    "a_details": json.dumps(details),
                    "d_payload": json.dumps(payload),
                },
            )
        ).first()
        if cert is not None:
            return cert, True
        existing = await current_for(session, official_id, level)
        if existing is not None:  # a concurrent request created it first
            return existing, False
    raise Problem(503, "status-list-full", "Could not assign a status-list index; try again.")


TRANSITIONS = {
    "revoke": ({"active", "suspended"}, "revoked", "revoked"),
    "suspend": ({"active"}, "suspended", "suspended"),
    "reinstate": ({"suspended"}, "active", "reinstated"),
}


async def bump_status_list(session: AsyncSession, list_no: int) -> None:
    await session.execute(
        text(
            "INSERT INTO status_list (id, version, updated_at) VALUES (:id, 1, now())"
            " ON CONFLICT (id) DO UPDATE SET version = status_list.version + 1, updated_at = now()"
        ),
        {"id": list_no},
    )


async def change_status(
    session: AsyncSession, issuer: Issuer, principal: Principal, cert_id: uuid.UUID, action: str, reason: str
) -> Row[Any]:
    allowed_from, new_status, event = TRANSITIONS[action]
    cert = await get(session, cert_id, lock=True)
    if cert is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    if cert.status not in allowed_from:
        raise Problem(
            409,
            "invalid-transition",
            f"A {cert.status} certificate cannot be {new_status if action != 'reinstate' else 'reinstated'}; "
            f"{action} applies to {' or '.join(sorted(allowed_from))} certificates.",
            current_status=cert.status,
        )
    now = utcnow()
    updated = (
        await session.execute(
            update(CERT)
            .where(CERT.c.id == cert_id)
            .values(status=new_status, status_reason=reason, status_changed_at=now, updated_at=now)
            .returning(*CERT.c)
        )
    ).one()
    await bump_status_list(session, cert.status_list)
    await record_change(
        session,
        issuer,
        updated,
        event,
        reason,
        principal=principal,
        action=action,
        details={"from": cert.status, "to": new_status},
    )
    return updated


async def reissue(
    session: AsyncSession,
    issuer: Issuer,
    principal: Principal,
    cert_id: uuid.UUID,
    reason: str,
    name: str | None,
    org: str | None,
) -> Row[Any]:
    """A new certificate (new serial, new credential) that supersedes ``cert_id``."""
    old = await get(session, cert_id, lock=True)
    if old is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    if old.superseded_by_id is not None:
        raise Problem(409, "already-superseded", "This certificate was already re-issued; re-issue the newest one.")
    if old.status == "revoked":
        raise Problem(409, "invalid-transition", "A revoked certificate cannot be re-issued; issue a new one instead.")
    now = utcnow()
    new_id_placeholder = uuid7()
    # Free the (official, level) slot first; the partial unique index admits one current certificate.
    await session.execute(
        update(CERT)
        .where(CERT.c.id == cert_id)
        .values(
            superseded_by_id=new_id_placeholder,
            status="superseded",
            status_reason=reason,
            status_changed_at=now,
            updated_at=now,
        )
    )
    new = await _insert_certificate(
        session,
        issuer,
        official_id=old.official_id,
        name=name or old.official_name,
        org=org if org is not None else old.org,
        level=old.level,
        completed_at=old.completed_at,
        curriculum_version=old.curriculum_version,
        origin="reissue",
        supersedes_id=old.id,
    )
    if new is None:  # pragma: no cover - the slot was freed under our row lock
        raise Problem(409, "conflict", "A concurrent change interfered; retry.")
    await session.execute(update(CERT).where(CERT.c.id == cert_id).values(superseded_by_id=new.id))
    await bump_status_list(session, old.status_list)
    await audit(session, old.id, "supersede", principal, reason, {"superseded_by": str(new.id), "serial": new.serial})
    await record_change(
        session,
        issuer,
        new,
        "reissued",
        reason,
        principal=principal,
        action="reissue",
        details={"supersedes": str(old.id), "old_serial": old.serial},
    )
    return new
