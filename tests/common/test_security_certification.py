"""The certification key passphrase: refused when unfit outside local development; rotatable."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from click.testing import CliRunner

from services.certification import app as certification_app
from services.certification.domain import keys as keydomain
from services.certification.settings import DEV_KEY_PASSPHRASE, get_settings
from services.certification.store.keys import ensure_keys
from services.common.db import create_engine, plain_url

SERVICE = "certification"


@pytest.mark.parametrize("passphrase", ["", DEV_KEY_PASSPHRASE, "short"])
def test_a_deployment_refuses_a_missing_development_or_short_passphrase(passphrase: str) -> None:
    settings = get_settings(database_url="postgresql://lms@db.example/certification", key_passphrase=passphrase)
    with pytest.raises(SystemExit, match="LMS_CERTIFICATION_KEY_PASSPHRASE"):
        certification_app.create_app(settings)


def test_local_development_may_use_the_development_passphrase() -> None:
    from services.common.settings import data_dir

    development_keys = str(data_dir() / "keys" / "jwks.json")
    embedded = "postgresql://postgres@/lms_certification?host=%2Ftmp%2Flms-pg-0123"  # as `lms up` passes it
    for url in ("", embedded, "postgresql://postgres@127.0.0.1:5432/lms_certification"):
        settings = get_settings(database_url=url, jwks=development_keys, key_passphrase=DEV_KEY_PASSPHRASE)
        assert certification_app.create_app(settings) is not None
    with pytest.raises(SystemExit):  # development keys, but a database elsewhere
        certification_app.create_app(
            get_settings(database_url="postgresql://lms@db.example/c", jwks=development_keys, key_passphrase="")
        )
    # the embedded database with a real identity provider's keys is not local development
    with pytest.raises(SystemExit):
        certification_app.create_app(
            get_settings(database_url=embedded, jwks="https://idp.example/jwks", key_passphrase=DEV_KEY_PASSPHRASE)
        )
    settings = get_settings(database_url="postgresql://lms@db.example/c", key_passphrase="a-real-secret-of-length")
    assert certification_app.create_app(settings) is not None


async def test_rekey_reencrypts_keys_and_webhook_secrets(database_url: str, monkeypatch) -> None:
    old, new = "the-old-passphrase-123", "the-new-passphrase-456"
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        await ensure_keys(engine, old)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        await conn.execute(
            "INSERT INTO webhook_subscription (id, owner, url, event_types, secret, enabled, created_at, updated_at)"
            " VALUES ($1, 'hr', 'https://hr.example/hook', '[]', $2, true, now(), now())",
            uuid.uuid4(),
            keydomain.seal("whsec_abc", old),
        )
    finally:
        await conn.close()
    from services.certification.cli import cli

    monkeypatch.setenv("LMS_CERTIFICATION_DATABASE_URL", database_url)
    monkeypatch.setenv("LMS_CERTIFICATION_KEY_PASSPHRASE", "not-the-current-one-at-all")
    refused = await asyncio.to_thread(
        CliRunner().invoke, cli, ["rekey"], env={"LMS_CERTIFICATION_NEW_KEY_PASSPHRASE": new}
    )
    assert refused.exit_code != 0 and "cannot decrypt" in refused.output
    monkeypatch.setenv("LMS_CERTIFICATION_KEY_PASSPHRASE", old)
    done = await asyncio.to_thread(
        CliRunner().invoke, cli, ["rekey"], env={"LMS_CERTIFICATION_NEW_KEY_PASSPHRASE": new}
    )
    assert done.exit_code == 0, done.output
    assert "signing keys and 1 webhook secrets" in done.output
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        pems = [r["private_pkcs8"] for r in await conn.fetch("SELECT private_pkcs8 FROM signing_key")]
        sealed = await conn.fetchval("SELECT secret FROM webhook_subscription")
    finally:
        await conn.close()
    assert pems and all(keydomain.decrypt_private(pem, new) is not None for pem in pems)
    assert keydomain.unseal(sealed, new) == "whsec_abc"
    with pytest.raises(ValueError):
        keydomain.decrypt_private(pems[0], old)


async def test_serials_cannot_be_enumerated(database_url: str, keys) -> None:
    from services.certification.domain.serial import RANDOM_DIGITS, make_serial, parse_serial
    from tests.certification.conftest import running

    async with running(database_url, keys) as svc:
        serials = [(await svc.issue(level=1)).json()["serial"] for _ in range(3)]
        parsed = [parse_serial(s) for s in serials]
        assert all(p is not None for p in parsed), serials
        numbers = [p[3] for p in parsed if p]
        assert all(n >= 10**RANDOM_DIGITS for n in numbers)
        assert len({n % 10**RANDOM_DIGITS for n in numbers}) == 3  # random tails
        # the neighbours a sequential scheme would have issued are unknown
        _, year, level, number = parsed[0]  # type: ignore[misc]
        for guess in (number - 1, number + 1, number // 10**RANDOM_DIGITS, number // 10**RANDOM_DIGITS + 1):
            r = await svc.client.get(f"/v1/verify/{make_serial('LMS', year, level, guess)}")
            assert r.status_code == 404, (guess, r.text)
        assert (await svc.client.get(f"/v1/verify/{serials[0]}")).status_code == 200


async def test_non_ascii_digits_are_clear_4xx(database_url: str, keys) -> None:
    from tests.certification.conftest import running

    async with running(database_url, keys) as svc:
        for path in (
            "/v1/achievements/level-²",
            "/v1/achievements/level-٣",
            "/v1/achievements/level-３",
            "/v1/verify/LMS-２０２６-L0-000001-0",
            "/v1/verify/LMS-2026-L0-٠٠٠٠٠١-0",
            "/verify/LMS-2026-L0-000001-٣",
        ):
            r = await svc.client.get(path)
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
        r = await svc.client.put(
            "/v1/officials/x/levels/３/certificate",
            json={
                "official": {"id": "x", "name": "A", "org": "O"},
                "completed_at": "2026-05-01T06:00:00Z",
                "curriculum_version": "v1",
            },
            headers=svc.h("service", sub="service:progress"),
        )
        assert r.status_code == 400


async def test_the_verification_page_neutralises_bidi_controls(database_url: str, keys) -> None:
    from tests.certification.conftest import running

    async with running(database_url, keys) as svc:
        issued = await svc.issue(name="Kim\u202eTAERCES\u202c Lee", level=0)
        page = await svc.client.get(f"/verify/{issued.json()['serial']}?lang=en")
    assert page.status_code == 200
    assert "\u202e" not in page.text and "\u202c" not in page.text
    assert "<bdi>KimTAERCES Lee</bdi>" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_webhooks_refuse_internal_targets(database_url: str, keys, url: str) -> None:
    from tests.certification.conftest import running

    async with running(database_url, keys, webhook_allowed_networks=()) as svc:
        r = await svc.client.post(
            "/v1/webhooks/subscriptions",
            json={"url": url, "event_types": ["certificate.issued"]},
            headers=svc.h("hr", sub="hr-1"),
        )
        assert r.status_code == 400 and r.json()["type"] == "urn:lms:problem:forbidden-target", r.text


async def test_delivery_log_keeps_only_status_and_timing(database_url: str, keys) -> None:
    from tests.certification.conftest import running

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"internal-secret: db password is hunter2"
        writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running(
            database_url, keys, webhook_allowed_networks=("127.0.0.1",), webhook_poll_seconds=0.05
        ) as svc:
            r = await svc.client.post(
                "/v1/webhooks/subscriptions",
                json={"url": f"http://127.0.0.1:{port}/hook", "event_types": ["certificate.issued"]},
                headers=svc.h("hr", sub="hr-1"),
            )
            assert r.status_code == 201, r.text
            await svc.issue(level=0)
            conn = await svc.db()
            try:
                for _ in range(100):
                    error = await conn.fetchval("SELECT last_error FROM webhook_delivery WHERE last_error IS NOT NULL")
                    if error:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await conn.close()
    finally:
        server.close()
    assert error and error.startswith("HTTP 500 after") and error.endswith(" ms"), error
    assert "hunter2" not in error and "Oops" not in error


@pytest.mark.parametrize("at", ["1999-01-01T00:00:00Z", 0])
async def test_completions_must_not_be_ancient(database_url: str, keys, at: object) -> None:
    from tests.certification.conftest import running

    async with running(database_url, keys) as svc:
        r = await svc.client.put(
            "/v1/officials/o-1/levels/1/certificate",
            json={"official": {"id": "o-1", "name": "A", "org": "O"}, "completed_at": at, "curriculum_version": "v"},
            headers=svc.h("service", sub="service:progress"),
        )
    assert r.status_code == 400 and "completed_at" in r.text, r.text
