"""An operator's round in a real browser: a failed SIU on the dashboard, its journey traced,
the mapping fixed, the message replayed from its button, the booking then in the gateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from adapters.domain import utcnow
from adapters.hl7v2.peer import DeskPatient, PasPeer
from tests.dashboard.browser import chromium, screenshot_path
from tests.hl7v2.helpers import demo_tables
from tests.hl7v2.journal_rig import (
    KEY,
    KEY_ENV,
    TOKEN,
    TOKEN_ENV,
    admin_post,
    desk_bookings,
    journaled_gateway,
    store_of,
)

NHS_NUMBER = "9434765919"
PATIENT = DeskPatient(
    "Okonkwo", "Ada", "F", date(1980, 1, 2), nhs_number=NHS_NUMBER, mrn="M77", postcode="FB1 2CD"
)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(KEY_ENV, KEY)


def _without_mrn(text: str) -> str:
    """identifier_systems.csv less its RVR01 MR row: the desk's MRN maps to nothing."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("RVR01"))


async def test_a_failed_siu_is_shown_traced_and_replayed_from_the_dashboard(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """Failure row with its reason -> Trace shows the message's hop -> after the fix, Replay
    applies it: the button says applied, the row says replayed, the appointment exists."""
    tables = demo_tables(tmp_path / "tables", identifier_systems=_without_mrn)
    async with journaled_gateway(peer, tmp_path, unused_tcp_port_factory, tables) as (
        consumer,
        _config,
    ):
        (filler,) = await desk_bookings(peer, consumer, PATIENT, 1)
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(str(consumer.client.make_url("/admin/dashboard")))
            await page.fill("#token", TOKEN)
            await page.click("#login button")

            failure = page.locator("#failures tbody tr").first
            await expect(failure).to_contain_text("hl7v2.siu")
            await expect(failure).to_contain_text("failed")
            reason = await failure.locator("td.bad").inner_text()
            assert reason and NHS_NUMBER not in reason and "Okonkwo" not in reason

            await failure.get_by_role("button", name="Trace").click()
            hop = page.locator("#trace tbody tr").first
            await expect(hop).to_contain_text("hl7v2.siu.received")
            await expect(hop).to_contain_text("failed")

            demo_tables(tables)  # the integrator adds the missing row
            assert (await admin_post(consumer, "/admin/reload"))["reloaded"] is True
            replay = failure.get_by_role("button", name="Replay")
            await replay.click()
            replayed = page.locator("#failures tbody tr").first
            await expect(replayed.locator("button.replay")).to_have_count(0)
            await expect(replayed).to_contain_text("replayed")

            await replayed.get_by_role("button", name="Trace").click()
            await expect(page.locator("#trace tbody")).to_contain_text("hl7v2.siu.replayed")
            await page.screenshot(
                path=str(screenshot_path(tmp_path / "dashboard.png")), full_page=True
            )
        since = utcnow() - timedelta(days=1)
        found = await store_of(consumer).find_by_nhs_number(NHS_NUMBER, since)
        assert [v.booking.supplier_ref for v in found] == [filler]
