"""The whole journey (`lms demo`) against three real service processes."""

from __future__ import annotations

import httpx
from rich.console import Console

from services.demo import print_summary, run_journey
from tests.e2e.stack import Stack


async def test_thirty_officials_from_diagnostic_to_hr_record(stack: Stack) -> None:
    def mint(role: str, sub: str = "", name: str = "", org: str = "") -> str:
        return stack.keys.token(role, sub=sub or role, name=name, org=org)

    bases = {service: stack.base(service) for service in ("placement", "progress", "certification")}
    summary = await run_journey(bases, mint, officials=30, seed=11)

    levels = {o.level for o in summary.officials}
    assert len(summary.officials) == 30 and all(0 <= o.level <= 4 for o in summary.officials)
    assert len(levels) >= 4, levels  # varied abilities land on varied levels
    assert summary.waitlisted >= 1 and summary.enrolled + summary.waitlisted == 30
    assert summary.events_duplicates > 0  # replays were recognised, not counted twice
    finishers = [o for o in summary.officials if o.enrolment == "enrolled"]
    assert summary.levels_completed == len(finishers) == summary.certificates
    assert len({o.serial for o in finishers}) == len(finishers)  # one certificate each, no duplicates
    assert summary.verified == len(finishers)
    issued = [i for i in summary.feed_items if i["event"].endswith("issued")]
    assert sorted(i["serial"] for i in issued) == sorted(o.serial for o in finishers)  # each exactly once
    assert summary.bad_signatures == 0 and len(summary.webhooks) >= len(finishers)
    assert summary.revocation_seen_in_feed and summary.revocation_seen_by_webhook
    assert summary.revocation_verified == "revoked"
    # waitlisted officials have no certificate
    assert all(not o.serial for o in summary.officials if o.enrolment == "waitlisted")

    # the demo leaves no webhook subscription behind (its receiver is gone)
    hr = {"Authorization": f"Bearer {mint('hr', sub='hr-system')}"}
    async with httpx.AsyncClient() as client:
        left = await client.get(f"{bases['certification']}/v1/webhooks/subscriptions", headers=hr)
    assert left.status_code == 200 and left.json() == []
    # a narrow terminal still shows every serial whole, and says the abilities are simulated
    console = Console(width=80, record=True, color_system=None)
    print_summary(summary, console)
    text = console.export_text()
    assert all(o.serial in text for o in finishers) and "simulated" in text
