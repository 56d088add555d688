"""Helpers for the browser tests: sign in, check a page with axe-core, take screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SHOTS = os.environ.get("LMS_TEST_SCREENSHOTS", "")  # a folder: save a screenshot of every checked page
SERIOUS = ("serious", "critical")


async def axe_check(page: Any, axe_source: str, label: str = "") -> None:
    """No serious or critical WCAG 2.1 A/AA violation on the page as it is now (axe-core, in the page)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source + "\n;true")  # run through the debugger: the page's CSP stays on
    result = await page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
        name = (label or page.url.split("/", 3)[-1] or "home").replace("/", "_")[:80]
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    assert not bad, f"{page.url}: " + "; ".join(bad)


async def dev_sign_in(page: Any, base: str, persona: str, sub: str = "", name: str = "", org: str = "") -> None:
    await page.goto(f"{base}/signin")
    await page.check(f"input[name=persona][value={persona}]")
    if sub:
        await page.fill("#sub", sub)
    if name:
        await page.fill("#name", name)
    if org:
        await page.fill("#org", org)
    await page.click("form[action='/auth/dev'] button[type=submit]")
    await page.wait_for_load_state()


async def axe_check_widths(page: Any, axe_source: str, label: str) -> None:
    """The page as it is now, on a phone (360 px wide: nothing wider than the screen but the tables
    that scroll inside their own region) and on a desktop, each checked with axe-core."""
    size = page.viewport_size
    for width, height, tag in ((360, 740, "360"), (1280, 800, "desktop")):
        await page.set_viewport_size({"width": width, "height": height})
        await axe_check(page, axe_source, f"{label}-{tag}")
        overflow = await page.evaluate("() => document.documentElement.scrollWidth")
        assert overflow <= width, f"{page.url} is {overflow} px wide on a {width} px screen"
    await page.set_viewport_size(size)
