"""The whole journey in a real browser: an official signs in, takes the diagnostic to the end and
enrols; an instructor (a second browser context) takes attendance and records the final
assessment; the certificate appears on the official's home, its PDF downloads and its
verification page opens from its link. axe-core checks every page on the way."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.web.browser import axe_check, axe_check_widths, dev_sign_in
from tests.web.conftest import Web

pytestmark = pytest.mark.e2e


async def take_diagnostic(page: Any, axe_source: str) -> str:
    await page.click("nav >> text=/Diagnostic|진단평가/")
    await axe_check(page, axe_source, "diagnostic-intro")
    await page.click("form[action='/diagnostic/start'] button")
    checked_item = False
    for _ in range(70):  # the diagnostic ends by 60 scored items and 2 trial ones (LMS_PLACEMENT_MAX_ITEMS)
        if await page.locator("form.item").count() == 0:
            break
        if not checked_item:
            await axe_check_widths(page, axe_source, "diagnostic-item")
            checked_item = True
        # keyboard-operable: focus the first option, choose with the keyboard, submit
        await page.focus("form.item input[type=radio] >> nth=0")
        await page.keyboard.press("Space")
        await page.click("form.item button[type=submit]")
    heading = await page.inner_text("h1")
    assert re.search("result|결과", heading, re.I), heading
    await axe_check_widths(page, axe_source, "diagnostic-result")
    return await page.inner_text(".big-level")


async def test_official_takes_the_diagnostic_and_enrols(web: Web, browser: Any, axe_source: str) -> None:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(web.base)
    assert page.url.endswith("/signin")
    await axe_check(page, axe_source, "signin")
    sub = f"official-{uuid.uuid4().hex[:8]}"
    await dev_sign_in(page, web.base, "learner", sub=sub, name="Kim Official", org="CITY-01")
    await page.wait_for_selector("h1")
    assert "Development sign-in" in await page.inner_text(".devbar")
    await axe_check(page, axe_source, "home-unplaced")
    placed = await take_diagnostic(page, axe_source)
    level = int(re.search(r"\d", placed).group(0))
    # the placement reaches progress through the outbox: the home page shows the path once it has
    for _ in range(50):
        await page.goto(web.base + "/")
        if await page.locator("ol.levels").count():
            break
        await page.wait_for_timeout(200)
    assert await page.locator(".level.current").count() == 1
    await axe_check_widths(page, axe_source, "home")
    await page.click("nav >> text=Sessions")
    await axe_check_widths(page, axe_source, "sessions")
    assert f"Level {level}" in await page.inner_text("main")
    first = page.locator("ul.cards > li").first
    await first.locator("button", has_text=re.compile("Enrol|waitlist")).click()
    await page.wait_for_selector("p.notice")
    assert re.search("enrolled|waitlist", await page.inner_text("p.notice"))
    await axe_check(page, axe_source, "sessions-enrolled")
    # Korean, switched and remembered
    await page.click("button[lang=ko]")
    assert "교육 과정 신청" in await page.inner_text("h1")
    await page.goto(web.base + "/")
    assert await page.get_attribute("html", "lang") == "ko"
    await axe_check(page, axe_source, "home-ko")
    await page.click("button[lang=en]")

    # The official joins a cohort that meets today (an admin moves them there with a reason, as
    # enrolment in a started session needs one); content reports the modules they completed.
    official = (await page.inner_text("header .who")).strip()
    assert official == "Kim Official"
    instructor = f"teacher-{uuid.uuid4().hex[:6]}"
    today = datetime.now(ZoneInfo("Asia/Seoul")).date().isoformat()
    admin = {"Authorization": f"Bearer {web.stack.keys.token('admin', sub='admin-t')}"}
    learner = {"Authorization": f"Bearer {web.stack.keys.token('learner', sub=sub, name='Kim Official')}"}
    async with httpx.AsyncClient(base_url=web.stack.base("progress"), timeout=10) as api:
        mine = (await api.get("/v1/me/enrolments", headers=learner)).json()
        for e in mine.get("items", mine) if isinstance(mine, dict) else mine:
            if e["status"] in ("enrolled", "waitlisted"):
                (await api.post(f"/v1/enrolments/{e['id']}/withdraw", headers=admin)).raise_for_status()
        body = {
            "level": level,
            "title": "Today's cohort",
            "days": [today],
            "seats": 5,
            "place": "Room 301",
            "instructor_id": instructor,
        }
        cohort = (await api.post("/v1/sessions", headers=admin, json=body)).json()
        enrol = {"official_id": sub, "override_reason": "joins the cohort running today"}
        (await api.post(f"/v1/sessions/{cohort['id']}/enrolments", headers=admin, json=enrol)).raise_for_status()
        curriculum = (await api.get("/v1/curricula/current", headers=learner)).json()
        modules = [
            m for lv in curriculum["levels"] if lv["level"] == level for c in lv["courses"] for m in c["modules"]
        ]
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "id": f"c-{sub}-{m['code']}",
                "official_id": sub,
                "module": m["code"],
                "verb": "completed",
                "occurred_at": now,
            }
            for m in modules
            if m["rule"] in ("completed", "completed_and_passed")
        ]
        (await api.post("/v1/events", headers=learner, json={"events": events})).raise_for_status()

    # The instructor, in a second browser context (on a phone-sized screen), takes attendance and records results.
    teacher_ctx = await browser.new_context(locale="ko-KR", viewport={"width": 360, "height": 740})
    teacher = await teacher_ctx.new_page()
    await dev_sign_in(teacher, web.base, "instructor", sub=instructor, name="Park Teacher")
    assert teacher.url.endswith("/teach")
    await axe_check(teacher, axe_source, "teach")
    await teacher.click("text=Today's cohort")
    await axe_check(teacher, axe_source, "teach-roster")
    await teacher.click(f"a[href$='/attendance/{today}']")
    await axe_check_widths(teacher, axe_source, "teach-attendance")
    await teacher.check(f"input[name='mark-{sub}'][value=absent]")
    await teacher.click("form.grid-att button[type=submit]")
    assert "저장했습니다" in await teacher.inner_text("p.notice")
    # a correction needs a reason: the error shows next to the reason field, the choice is kept
    await teacher.click(f"a[href$='/attendance/{today}']")
    await teacher.check(f"input[name='mark-{sub}'][value=present]")
    await teacher.click("form.grid-att button[type=submit]")
    assert await teacher.locator("#reason-errors").count() == 1
    assert await teacher.is_checked(f"input[name='mark-{sub}'][value=present]")
    await axe_check(teacher, axe_source, "teach-attendance-error")
    await teacher.fill("#reason", "arrived after the roll call")
    await teacher.click("form.grid-att button[type=submit]")
    assert "저장했습니다" in await teacher.inner_text("p.notice")
    await teacher.click("a[href$='/results']")
    await axe_check(teacher, axe_source, "teach-results")
    for code in await teacher.eval_on_selector_all("#module option", "os => os.map(o => o.value)"):
        await teacher.select_option("#module", code)
        await teacher.check(f"input[name='result-{sub}'][value=passed]")
        await teacher.fill(f"#score-{sub}", "92")
        await teacher.click("main form button[type=submit]")
        assert "저장했습니다" in await teacher.inner_text("p.notice")
        await teacher.click("a[href$='/results']")
    await teacher_ctx.close()

    # The certificate appears on the official's home; the PDF downloads; the verification page opens.
    for _ in range(100):
        await page.goto(web.base + "/")
        if await page.locator("#certs-h + ul li").count():
            break
        await page.wait_for_timeout(300)
    assert "LMS-" in await page.inner_text("#certs-h + ul")
    await page.click("nav >> text=Certificates")
    await axe_check(page, axe_source, "certificates")
    async with page.expect_download() as info:
        await page.click("a[href$='/pdf']")
    download = await info.value
    pdf = await download.path()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    link = await page.input_value("input[id^=link-]")
    await page.click("text=Open the verification page")
    await page.wait_for_load_state()
    assert page.url == link
    assert re.search("valid|유효", await page.inner_text("body"), re.I)
    await context.close()
