"""The booking page in real Chromium, as an applicant in New York booking a Shanghai office."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Dialog, expect

from notary import availability
from notary.accounts import create_account
from notary.roles import Role
from signaling import appointments_api
from signaling.appkeys import PLATFORM
from tests.notary.booking_world import accepted_case, make_world, utc
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

PASSWORD = "applicant passphrase 2026"
NOW = utc(2026, 3, 2)  # the US moves its clocks on 2026-03-08


async def test_applicant_books_moves_and_cancels(
    client: TestClient, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(appointments_api, "_now", lambda: NOW)
    async with client.app[PLATFORM].engine.begin() as conn:
        world = await make_world(conn)
        applicant = await create_account(
            conn,
            role=Role.APPLICANT,
            display_name="张三",
            login="zhang@example.org",
            password=PASSWORD,
        )
        case_id = await accepted_case(conn, world, applicant=applicant.id)
        for weekday, start, end in ((0, 540, 600), (5, 1140, 1200)):  # Mon 9-10, Sat 19-20
            await availability.publish(
                conn,
                account_id=world.notary,
                weekday=weekday,
                on_date=None,
                start_minute=start,
                end_minute=end,
                now=NOW,
            )
    context = await browser.new_context(locale="en-US", timezone_id="America/New_York")
    page = await context.new_page()
    page.on("dialog", _accept)
    await page.goto(str(client.make_url(f"/static/book.html?case={case_id}&lang=en")))
    await expect(page.locator("h1")).to_have_text("Book your video interview")
    await page.get_by_label("E-mail or phone").fill("zhang@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    # The zone comes from the browser; both clocks side by side, across the US change.
    await expect(page.get_by_label("Your time zone")).to_have_value("America/New_York")
    rows = page.locator("#slots tr[data-starts-at]")
    await expect(rows.first).to_be_visible()
    texts = [await row.locator("td").all_inner_texts() for row in await rows.all()]
    assert [t[:2] for t in texts[:2]] == [
        ["06:00 (UTC-05:00)", "2026-03-07 19:00 (UTC+08:00)"],
        ["06:30 (UTC-05:00)", "2026-03-07 19:30 (UTC+08:00)"],
    ]
    monday = page.locator('#slots tr[data-starts-at="2026-03-09T01:00:00+00:00"]')
    await expect(monday.locator("td").first).to_have_text("21:00 (UTC-04:00)")
    await expect(page.locator("#slots tr.day").nth(1)).to_contain_text("2026-03-08 Sunday")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "book-en.png"), full_page=True)

    await monday.get_by_role("button", name="Book").click()
    await expect(page.locator("#message")).to_have_text("Booked.")
    box = page.locator("#appointment")
    await expect(box).to_contain_text("2026-03-08 Sunday 21:00 (UTC-04:00)")
    await expect(box).to_contain_text("2026-03-09 Monday 09:00 (UTC+08:00)")
    await expect(page.locator("#slots-section")).to_be_hidden()

    await box.get_by_role("button", name="Change time").click()
    await rows.first.get_by_role("button", name="Move here").click()
    await expect(page.locator("#message")).to_have_text("Moved.")
    await expect(box).to_contain_text("2026-03-07 Saturday 06:00 (UTC-05:00)")
    await expect(box).to_contain_text("moved 1 times")

    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("h1")).to_have_text("预约视频面谈")
    await expect(box).to_contain_text("您的时间")
    await expect(page.locator("#message")).to_have_text("已改期。")  # the message follows
    await expect(page.get_by_role("button", name="显示可预约时间")).to_be_enabled()
    await page.screenshot(path=str(ARTIFACTS / "book-zh.png"), full_page=True)
    await box.get_by_role("button", name="取消预约").click()
    await expect(page.locator("#message")).to_have_text("已取消。")
    await expect(page.locator("#appointment-section")).to_be_hidden()
    await expect(rows.first).to_be_visible()  # bookable again
    await context.close()


async def _accept(dialog: Dialog) -> None:
    # The confirm() before cancelling; Playwright dismisses dialogs unless told otherwise.
    await dialog.accept()
