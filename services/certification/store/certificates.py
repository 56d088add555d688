"""Certificates: issue, status changes and re-issue, each in one transaction with its audit row,
its HR-feed change row and its webhook deliveries; the reads the API needs. Handlers call one
function here and then commit."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification.domain import credential as vc
from services.certification.domain import integrity, pdf
from services.certification.domain.serial import RANDOM_DIGITS, make_serial, unguessable_number
from services.certification.domain.statuslist import LIST_BITS, list_for
from services.certification.settings import Settings
from services.certification.store.feed import HOLD_FEED_SELECT, feed_timeout, hold_feed
from services.certification.store.keys import KeyRing
from services.common.auth import Principal
from services.common.db import utcnow, uuid7
from services.common.errors import Problem


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
            rows = await session.execute(NEXT_SERIALS, {"n": self.serial_block})
            self._serials.extend(sorted((int(r[0]) for r in rows), reverse=True))
        return self._serials.pop()

    @property
    def base(self) -> str:
        return self.settings.public_url

    @property
    def issuer_ids(self) -> tuple[str, ...]:
        """Every issuer id this issuer has signed with (the base URL before the issuer had its own
        Profile URL), so credentials issued earlier keep verifying."""
        return (self.settings.issuer_url, self.settings.public_url)

    def verify_url(self, serial: str) -> str:
        return f"{self.base}/verify/{serial}"

    def record_url(self, cert_id: uuid.UUID | str) -> str:
        return f"{self.base}/v1/certificates/{cert_id}"


NEXT_SERIALS = text("SELECT nextval('certificate_serial_seq') FROM generate_series(1, :n)")
CURRENT = text(
    "SELECT * FROM certificate WHERE official_id = :official_id AND level = :level AND superseded_by_id IS NULL"
)
# The same lookup as the first statement of an issuing transaction, in one round trip with the
# feed writer lock (see store/feed.py): one row, all NULL when there is no current certificate.
CURRENT_HOLDING_FEED = text(
    f"WITH h AS ({HOLD_FEED_SELECT}) SELECT c.* FROM h LEFT JOIN certificate c"  # noqa: S608 - constant
    " ON c.official_id = :official_id AND c.level = :level AND c.superseded_by_id IS NULL"
)
BY_ID = text("SELECT * FROM certificate WHERE id = :id")
BY_ID_FOR_UPDATE = text("SELECT * FROM certificate WHERE id = :id FOR UPDATE")
MINE = text("SELECT * FROM certificate WHERE official_id = :official_id ORDER BY issued_at DESC")
# Admin search: an exact serial or official id, or part of the holder's name; newest first, keyset
# paged on (issued_at, id). A name match reads the table (an admin tool, not a hot path).
SEARCH = text(
    """
    SELECT * FROM certificate
    WHERE (serial = :q OR official_id = :q OR official_name ILIKE :pattern ESCAPE '\\')
      AND (CAST(:after_at AS timestamptz) IS NULL OR (issued_at, id) < (:after_at, :after_id))
    ORDER BY issued_at DESC, id DESC
    LIMIT :n
    """
)
AUDIT_LOG = text("SELECT * FROM audit WHERE certificate_id = :id ORDER BY id")
CERT_COLUMNS = (
    "id, serial, serial_no, official_id, official_name, org, level, curriculum_version, completed_at, issued_at,"
    " valid_until, status, status_list, status_index, supersedes_id, origin, kid, vc_jwt, created_at, updated_at"
)
CERT_VALUES = (
    ":id, :serial, :serial_no, :official_id, :official_name, :org, :level, :curriculum_version, :completed_at,"
    " :issued_at, :valid_until, :status, :status_list, :status_index, :supersedes_id, :origin, :kid, :vc_jwt,"
    " :created_at, :updated_at"
)
# A new certificate; no row comes back on a unique conflict (a current one for (official, level)
# exists, or the random status index was taken).
INSERT_CERTIFICATE = text(
    f"INSERT INTO certificate ({CERT_COLUMNS}) VALUES ({CERT_VALUES}) ON CONFLICT DO NOTHING RETURNING *"  # noqa: S608
)
INSERT_AUDIT = text(
    "INSERT INTO audit (certificate_id, action, actor, actor_roles, reason, at, details)"
    " VALUES (:cid, :action, :actor, :roles, :reason, :at, CAST(:details AS jsonb))"
)
# A delivery for every subscription to the event, enabled or not: a disabled subscription gets
# what it missed, in order, once it is enabled again.
_DELIVERIES = (
    " INSERT INTO webhook_delivery (id, subscription_id, event, payload, created_at, next_attempt_at, retry_from,"
    " attempts, certificate_id, change_seq)"
    " SELECT gen_random_uuid(), s.id, CAST(:d_event AS varchar),"
    " jsonb_set(CAST(:d_payload AS jsonb), '{data,change_seq}', to_jsonb(c.seq)), now(), now(), now(), 0,"
    " c.certificate_id, c.seq"
    " FROM c, webhook_subscription s WHERE s.event_types @> jsonb_build_array(CAST(:d_event AS text))"
)
# In one statement: the audit row, the HR-feed change row (stamped with this transaction's id)
# and the webhook deliveries of a change to an existing certificate.
RECORD = text(
    "WITH a AS ("  # noqa: S608 - constant fragments
    " INSERT INTO audit (certificate_id, action, actor, actor_roles, reason, at, details)"
    " VALUES (:a_cid, :a_action, :a_actor, :a_roles, :a_reason, :a_at, CAST(:a_details AS jsonb))),"
    " c AS ("
    " INSERT INTO change (xid, event, certificate_id, serial, official_id, official_name, org, level, status,"
    " reason, issued_at, changed_at, supersedes_id)"
    " VALUES (pg_current_xact_id()::text::bigint, :event, :cid, :serial, :official_id, :official_name, :org,"
    " :level, :status, :reason, :issued_at, :changed_at, :supersedes_id) RETURNING seq, certificate_id),"
    f" d AS ({_DELIVERIES})"
    " SELECT seq FROM c"
)
# Issue in one round trip: the certificate, its audit row, its HR-feed change row and its webhook
# deliveries. On any unique conflict nothing is written and no row comes back.
ISSUE = text(
    f"WITH cert AS (INSERT INTO certificate ({CERT_COLUMNS}) VALUES ({CERT_VALUES})"  # noqa: S608
    " ON CONFLICT DO NOTHING RETURNING *),"
    " a AS (INSERT INTO audit (certificate_id, action, actor, actor_roles, reason, at, details)"
    " SELECT cert.id, 'issue', CAST(:a_actor AS varchar), CAST(:a_roles AS varchar), CAST(:a_reason AS text),"
    " cert.created_at, CAST(:a_details AS jsonb) FROM cert),"
    " c AS (INSERT INTO change (xid, event, certificate_id, serial, official_id, official_name, org, level, status,"
    " reason, issued_at, changed_at, supersedes_id)"
    " SELECT pg_current_xact_id()::text::bigint, 'issued', cert.id, cert.serial, cert.official_id,"
    " cert.official_name, cert.org, cert.level, cert.status, CAST(:a_reason AS text), cert.issued_at,"
    " cert.created_at, cert.supersedes_id FROM cert RETURNING seq, certificate_id),"
    f" d AS ({_DELIVERIES})"
    " SELECT cert.* FROM cert"
)
SET_STATUS = text(
    "UPDATE certificate SET status = :status, status_reason = :reason, status_changed_at = :now, updated_at = :now"
    " WHERE id = :id RETURNING *"
)
# Re-issue frees the (official, level) slot first: the partial unique index admits one current certificate.
SUPERSEDE = text(
    "UPDATE certificate SET superseded_by_id = :successor, status = 'superseded', status_reason = :reason,"
    " status_changed_at = :now, updated_at = :now WHERE id = :id"
)
POINT_TO_SUCCESSOR = text("UPDATE certificate SET superseded_by_id = :successor WHERE id = :id")
BUMP_STATUS_LIST = text(
    "INSERT INTO status_list (id, version, updated_at) VALUES (:id, 1, now())"
    " ON CONFLICT (id) DO UPDATE SET version = status_list.version + 1, updated_at = now()"
)
# The public verification view, read on the asyncpg read pool (one round trip, prepared once per
# connection). By serial it leaves out the VC-JWT (kilobytes no answer by serial needs); by id
# (POST /v1/verify) it carries it, to compare with the presented token.
VIEW_COLUMNS = (
    "c.id, c.serial, c.official_name, c.level, c.status, c.status_reason, c.issued_at, c.valid_until,"
    " c.kid, n.serial AS successor"
)
VIEW_FROM = " FROM certificate c LEFT JOIN certificate n ON n.id = c.superseded_by_id"
VIEW_BY_SERIAL = f"SELECT {VIEW_COLUMNS}{VIEW_FROM} WHERE c.serial = $1"
VIEW_BY_ID = f"SELECT {VIEW_COLUMNS}, c.vc_jwt{VIEW_FROM} WHERE c.id = $1"

TRANSITIONS = {
    "revoke": ({"active", "suspended"}, "revoked", "revoked"),
    "suspend": ({"active"}, "suspended", "suspended"),
    "reinstate": ({"suspended"}, "active", "reinstated"),
}


async def current_for(session: AsyncSession, official_id: str, level: int) -> Row[Any] | None:
    return (await session.execute(CURRENT, {"official_id": official_id, "level": level})).first()


async def get(session: AsyncSession, cert_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    return (await session.execute(BY_ID_FOR_UPDATE if lock else BY_ID, {"id": cert_id})).first()


async def mine(session: AsyncSession, official_id: str) -> list[Row[Any]]:
    """The official's certificates, newest first."""
    return list((await session.execute(MINE, {"official_id": official_id})).all())


async def search(session: AsyncSession, q: str, limit: int, after: tuple[datetime, uuid.UUID] | None) -> list[Row[Any]]:
    """Certificates whose serial or official id is ``q`` or whose holder's name contains it, newest
    first, after the keyset ``after``; at most ``limit`` rows."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    after_at, after_id = after if after else (None, None)
    params = {"q": q, "pattern": pattern, "after_at": after_at, "after_id": after_id, "n": limit}
    return list((await session.execute(SEARCH, params)).all())


async def audit_log(session: AsyncSession, cert_id: uuid.UUID) -> list[Row[Any]] | None:
    """Every audit row of a certificate, oldest first; None when there is no such certificate."""
    if await get(session, cert_id) is None:
        return None
    return list((await session.execute(AUDIT_LOG, {"id": cert_id})).all())


async def view(reads: Any, *, serial: str | None = None, cert_id: uuid.UUID | None = None) -> Any:
    """The verification view of one certificate by serial or id (asyncpg read pool), or None; only
    the view by id carries ``vc_jwt``."""
    record = await (
        reads.fetchrow(VIEW_BY_SERIAL, serial) if serial is not None else reads.fetchrow(VIEW_BY_ID, cert_id)
    )
    return SimpleNamespace(**dict(record)) if record is not None else None


async def with_proof(issuer: Issuer, vc_jwt: str) -> dict[str, Any]:
    """The credential of a stored VC-JWT with an embedded ``eddsa-rdfc-2022`` Data Integrity
    proof by the newest Ed25519 key, ``created`` at its validFrom (the same bytes every time)."""
    credential = vc.credential_of(vc_jwt)
    kid, key = await issuer.keyring.signer("EdDSA")
    if not isinstance(key, integrity.Ed25519PrivateKey):  # pragma: no cover - EdDSA keys are Ed25519
        raise TypeError("Data Integrity proofs need an Ed25519 key")
    method = vc.multikey_url(issuer.base, kid)
    return await asyncio.to_thread(integrity.add_proof, credential, key, method, credential["validFrom"])


async def printable(issuer: Issuer, row: Any) -> bytes:
    """The certificate's PDF as it stands now (a stamp if revoked, suspended, superseded or
    expired), with the VC-JWT and the JSON-LD credential attached. Rendering runs in a thread."""
    settings = issuer.settings
    secured = await with_proof(issuer, row.vc_jwt)
    facts = pdf.PrintFacts(
        serial=row.serial,
        holder_name=row.official_name,
        org=row.org,
        level=row.level,
        issued_at=row.issued_at,
        issuer_name=settings.issuer_name,
        issuer_name_ko=settings.issuer_name_ko,
        verify_url=issuer.verify_url(row.serial),
        vc_jwt=row.vc_jwt,
        status="active" if (verdict := vc.status_of(row.status, row.valid_until, utcnow())) == "valid" else verdict,
        credential_jsonld=json.dumps(secured, ensure_ascii=False, separators=(",", ":")).encode(),
    )
    return await asyncio.to_thread(pdf.render, facts)


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
        "vc_jwt": vc.sign(credential, key, vc.key_url(issuer.base, kid)),
        "created_at": issued_at,
        "updated_at": issued_at,
    }


def _actor(principal: Principal) -> tuple[str, str]:
    return principal.sub[:128], " ".join(sorted(principal.roles))[:128]


def _payload(
    issuer: Issuer, event_type: str, moment: datetime, cert_id: Any, serial: str, status: str, level: int
) -> str:
    return json.dumps(
        {
            "type": event_type,
            "timestamp": vc.iso(moment),
            "data": {
                "id": str(cert_id),
                "serial": serial,
                "status": status,
                "level": level,
                "change_seq": None,
                "url": issuer.record_url(cert_id),
            },
        }
    )


async def _record_change(
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
    """In one statement: the audit row, the HR-feed change row and the webhook deliveries."""
    now = utcnow()
    actor, roles = _actor(principal)
    event_type = f"certificate.{event}"
    params = {
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
        "d_payload": _payload(issuer, event_type, now, cert.id, cert.serial, cert.status, cert.level),
    }
    return int((await session.execute(RECORD, params)).scalar_one())


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
    params = {"official_id": official_id, "level": level, "timeout": feed_timeout(issuer.settings)}
    existing = (await session.execute(CURRENT_HOLDING_FEED, params)).one()
    if existing.id is not None:
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
        details = {"origin": origin, "serial": values["serial"], "curriculum_version": curriculum_version}
        payload = _payload(
            issuer, "certificate.issued", values["issued_at"], values["id"], values["serial"], "active", level
        )
        params = {
            **values,
            "a_actor": actor,
            "a_roles": roles,
            "a_reason": reason,
            "a_details": json.dumps(details),
            "d_event": "certificate.issued",
            "d_payload": payload,
        }
        cert = (await session.execute(ISSUE, params)).first()
        if cert is not None:
            return cert, True
        concurrent = await current_for(session, official_id, level)
        if concurrent is not None:  # a concurrent request created it first
            return concurrent, False
    raise Problem(503, "status-list-full", "Could not assign a status-list index; try again.")


async def change_status(
    session: AsyncSession, issuer: Issuer, principal: Principal, cert_id: uuid.UUID, action: str, reason: str
) -> Row[Any]:
    allowed_from, new_status, event = TRANSITIONS[action]
    await hold_feed(session, issuer.settings)
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
    params = {"id": cert_id, "status": new_status, "reason": reason, "now": now}
    updated = (await session.execute(SET_STATUS, params)).one()
    await session.execute(BUMP_STATUS_LIST, {"id": cert.status_list})
    await _record_change(
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


async def _insert_certificate(session: AsyncSession, issuer: Issuer, **facts: Any) -> Row[Any] | None:
    """Insert a new certificate; None when a current one for (official, level) appeared meanwhile.
    A random status index that collides is drawn again."""
    for _ in range(20):
        serial_no = await issuer.next_serial(session)
        values = await _signed_row(issuer, serial_no=serial_no, **facts)
        inserted = (await session.execute(INSERT_CERTIFICATE, values)).first()
        if inserted is not None:
            return inserted
        if await current_for(session, facts["official_id"], facts["level"]) is not None:
            return None
    raise Problem(503, "status-list-full", "Could not assign a status-list index; try again.")


async def reissue(
    session: AsyncSession,
    issuer: Issuer,
    principal: Principal,
    cert_id: uuid.UUID,
    reason: str,
    name: str | None,
    org: str | None,
) -> tuple[Row[Any], Row[Any]]:
    """(old, new): a new certificate (new serial, new credential) that supersedes ``cert_id``."""
    await hold_feed(session, issuer.settings)
    old = await get(session, cert_id, lock=True)
    if old is None:
        raise Problem(404, "not-found", f"No certificate with id {cert_id} exists.")
    if old.superseded_by_id is not None:
        raise Problem(409, "already-superseded", "This certificate was already re-issued; re-issue the newest one.")
    if old.status == "revoked":
        raise Problem(409, "invalid-transition", "A revoked certificate cannot be re-issued; issue a new one instead.")
    now = utcnow()
    await session.execute(SUPERSEDE, {"id": cert_id, "successor": uuid7(), "reason": reason, "now": now})
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
    await session.execute(POINT_TO_SUCCESSOR, {"id": cert_id, "successor": new.id})
    await session.execute(BUMP_STATUS_LIST, {"id": old.status_list})
    actor, roles = _actor(principal)
    audit = {"cid": old.id, "action": "supersede", "actor": actor, "roles": roles, "reason": reason, "at": now}
    await session.execute(
        INSERT_AUDIT, {**audit, "details": json.dumps({"superseded_by": str(new.id), "serial": new.serial})}
    )
    await _record_change(
        session,
        issuer,
        new,
        "reissued",
        reason,
        principal=principal,
        action="reissue",
        details={"supersedes": str(old.id), "old_serial": old.serial},
    )
    return old, new
