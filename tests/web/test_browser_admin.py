"""An admin in a real browser: the overview with charts and CSV, scheduling a session (every
error next to its field), importing an item bank with errors then a good one, publishing a bank
version and a curriculum (watching its recompute job), and changing a certificate's status.
axe-core checks every page, at desktop width and at 360 px."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.web.browser import axe_check, dev_sign_in
from tests.web.conftest import Web

pytestmark = pytest.mark.e2e


def good_item(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "domain": "data-literacy",
        "stem": {"ko": "표본이란?", "en": "What is a sample?"},
        "options": [{"ko": "일부", "en": "A part"}, {"ko": "전체", "en": "The whole"}],
        "answer": 0,
        "a": 1.1,
        "b": -0.5,
        "c": 0.0,
    }


async def test_admin_runs_the_programme(web: Web, browser: Any, axe_source: str, tmp_path: Any) -> None:
    admin_h = {"Authorization": f"Bearer {web.stack.keys.token('admin', sub='admin-t')}"}
    async with httpx.AsyncClient(timeout=10) as http:
        current = (await http.get(web.stack.base("progress") + "/v1/curricula/current", headers=admin_h)).json()
        draft = {"version": "2026.2", "title": current["title"], "levels": current["levels"]}
        created = await http.post(web.stack.base("progress") + "/v1/curricula", headers=admin_h, json=draft)
        assert created.status_code == 201, created.text
        issue = {
            "official": {"id": "cert-holder", "name": "Lee Holder", "org": "CITY-02"},
            "level": 1,
            "reason": "migrated from the 2025 records",
        }
        cert = await http.post(web.stack.base("certification") + "/v1/admin/certificates", headers=admin_h, json=issue)
        assert cert.status_code == 201, cert.text
        serial = cert.json()["serial"]

    for width in (1280, 360):
        context = await browser.new_context(locale="en-US", viewport={"width": width, "height": 900})
        page = await context.new_page()
        await dev_sign_in(page, web.base, "admin")
        assert page.url.endswith("/admin")
        await axe_check(page, axe_source, f"admin-overview-{width}")
        header = await page.locator("header.top").bounding_box()
        assert header is not None and header["height"] < 150, header  # on a phone: brand, menu and tools rows
        for path in ("/admin/sessions", "/admin/curricula", "/admin/items", "/admin/reviews", "/admin/certificates"):
            await page.goto(web.base + path)
            await axe_check(page, axe_source, f"admin{path.replace('/', '-')}-{width}")
        await context.close()

    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await dev_sign_in(page, web.base, "admin")
    # a chart's numbers as CSV
    async with page.expect_download() as info:
        await page.click("a[href='/admin/reports/capacity/csv?by=level']")
    csv_text = (await (await info.value).path()).read_text()
    assert csv_text.splitlines()[0].startswith("level")

    # schedule a session: every bad field marked at once, what was typed kept
    await page.goto(web.base + "/admin/sessions")
    await page.click("summary")
    await page.fill("#f-days", "2026-13-01")
    await page.fill("#f-place", "Room 12")
    await page.click("form[action='/admin/sessions'] button[type=submit]")
    for name in ("title", "days", "seats"):
        assert await page.locator(f"#{name}-errors").count() == 1, name
    assert await page.input_value("#f-place") == "Room 12"
    await axe_check(page, axe_source, "admin-sessions-errors")
    await page.fill("#f-title", "Spring cohort")
    await page.fill("#f-days", "2027-03-02, 2027-03-03")
    await page.fill("#f-seats", "0")
    await page.click("form[action='/admin/sessions'] button[type=submit]")
    assert await page.locator("#seats-errors").count() == 1  # the API's answer, next to its field
    await page.fill("#f-seats", "12")
    await page.click("form[action='/admin/sessions'] button[type=submit]")
    assert "Created" in await page.inner_text("p.notice")
    await axe_check(page, axe_source, "admin-session")
    await page.fill("#f-seats", "14")
    await page.click("main form button[type=submit]")
    assert await page.input_value("#f-seats") == "14"

    # import a bank with errors: every bad row listed, nothing imported; then a good file
    bad = [good_item("WEB-OK-1"), {**good_item("WEB-BAD-1"), "answer": 7}, {**good_item("WEB-BAD-2"), "options": []}]
    bad_file = tmp_path / "bank.json"
    bad_file.write_text(json.dumps(bad))
    await page.goto(web.base + "/admin/items")
    await page.set_input_files("#file", str(bad_file))
    await page.click("form[action='/admin/items/import'] button")
    rows = await page.locator("table.bad-rows tbody tr").count()
    assert rows >= 2, await page.inner_text("main")
    await axe_check(page, axe_source, "admin-items-errors")
    good_file = tmp_path / "good.json"
    good_file.write_text(json.dumps([good_item(f"WEB-{uuid.uuid4().hex[:6]}")]))
    await page.set_input_files("#file", str(good_file))
    await page.click("form[action='/admin/items/import'] button")
    assert "1 new" in await page.inner_text("p.notice")
    await page.fill("#note", "adds a web-imported item")
    await page.click("form[action='/admin/bank/versions'] button")
    assert "Published" in await page.inner_text("p.notice")

    # publish the draft curriculum and watch its recompute job finish (htmx polling)
    await page.goto(web.base + "/admin/curricula")
    await page.click("text=2026.2")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.click("form[action$='/publish'] button")
    assert "/admin/jobs/" in page.url
    await axe_check(page, axe_source, "admin-job")
    await page.wait_for_selector("#job:not([hx-get])", timeout=30000)
    await page.goto(web.base + "/admin/curricula")
    assert "published" in (await page.inner_text("tr:has-text('2026.2')")).lower()

    # certificates: a reason is required (the error shows by the field), then suspend and reinstate
    await page.goto(web.base + "/admin/certificates?q=holder")  # part of the name finds the one certificate
    assert serial in await page.inner_text("main")
    await page.goto(web.base + f"/admin/certificates?q={serial}")
    await axe_check(page, axe_source, "admin-certificate")
    await page.fill("#reason", " ")
    await page.click("button[formaction$='/suspend']")
    assert await page.locator("#reason-errors").count() == 1
    await page.fill("#reason", "under investigation")
    await page.click("button[formaction$='/suspend']")
    assert "Suspended" in await page.inner_text("main")
    await page.fill("#reason", "investigation closed")
    await page.click("button[formaction$='/reinstate']")
    assert "Valid" in await page.inner_text(".facts")  # statuses read as words: capitalised
    await context.close()
