"""The interview-hours page in real Chromium: a notary publishes hours and sees a booking."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from notary import booking, recusal
from notary.accounts import create_account
from notary.cases import get_case
from notary.roles import Role
from signaling import appointments_api
from signaling.appkeys import PLATFORM
from tests.notary.booking_world import accepted_case, make_world, utc
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

PASSWORD = "hours passphrase 2026"
NOW = utc(2026, 3, 2)


async def test_notary_publishes_hours_and_sees_the_booking(
    client: TestClient, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(appointments_api, "_now", lambda: NOW)
    engine = client.app[PLATFORM].engine
    async with engine.begin() as conn:
        world = await make_world(conn)
        notary = await create_account(
            conn,
            role=Role.NOTARY,
            display_name="李公证员",
            login="li.hours@example.org",
            password=PASSWORD,
            office_id=world.office,
        )
        case_id = await accepted_case(conn, world)
        case = await get_case(conn, case_id)
        assert case is not None
        await recusal.assign(  # the case is this notary's
            conn, case, notary_id=notary.id, actor_id=world.admin, actor_role="admin"
        )
    page = await browser.new_page(locale="en-US")
    await page.goto(str(client.make_url("/static/hours.html?lang=en")))
    await page.get_by_label("E-mail or phone").fill("li.hours@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#zone-note")).to_contain_text("Asia/Shanghai")
    await expect(page.locator("#windows")).to_contain_text("Nothing published yet.")

    # Saturday evenings, then one Monday morning.
    await page.locator("select[name=weekday]").select_option("5")
    await page.locator("input[name=start]").fill("19:00")
    await page.locator("input[name=end]").fill("21:00")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#message")).to_have_text("Published.")
    await page.get_by_role("radio", name="On").check()
    await page.locator("input[name=date]").fill("2026-03-09")
    await page.locator("input[name=start]").fill("09:00")
    await page.locator("input[name=end]").fill("10:00")
    await page.get_by_role("button", name="Publish").click()
    rows = page.locator("#windows tr[data-window-id]")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("Saturday")
    await expect(rows.nth(0)).to_contain_text("19:00–21:00")
    await expect(rows.nth(1)).to_contain_text("2026-03-09")

    # An applicant in New York books the Monday slot; the notary sees both clocks.
    async with engine.begin() as conn:
        await booking.book(
            conn,
            case_id=case_id,
            actor_id=world.applicant,
            actor_role="applicant",
            starts_at=utc(2026, 3, 9, 1),
            applicant_timezone="America/New_York",
            now=NOW,
        )
    await rows.nth(0).get_by_role("button", name="Remove").click()
    await expect(page.locator("#message")).to_have_text("Removed.")
    await expect(rows).to_have_count(1)
    bookings = page.locator("#bookings tr")
    await expect(bookings).to_have_count(1)
    await expect(bookings.first).to_contain_text("2026-03-09 09:00 (UTC+08:00)")
    await expect(bookings.first).to_contain_text("2026-03-08 21:00 (UTC-04:00) America/New_York")

    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("h1")).to_have_text("面谈时间安排")
    await expect(page.locator("#message")).to_have_text("已删除。")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "hours-zh.png"), full_page=True)
