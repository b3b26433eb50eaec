"""The home page in real Chromium: both languages, and the live status of the platform."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e


async def test_home_page_in_chinese_and_english_shows_green_status(
    client: TestClient, browser: Browser
) -> None:
    base = str(client.make_url("/"))
    page = await browser.new_page(locale="zh-CN")
    await page.goto(base)
    await expect(page.locator("h1")).to_have_text("NotaryLink 远程视频公证")
    await expect(page.locator("#status-database")).to_have_text("正常")
    await expect(page.locator("#status-object_store")).to_have_text("正常")
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "home-zh.png"), full_page=True)

    await page.get_by_role("button", name="English").click()
    await expect(page.locator("h1")).to_have_text("NotaryLink remote notarization")
    await expect(page.locator("#status-object_store")).to_have_text("OK")
    await page.screenshot(path=str(ARTIFACTS / "home-en.png"), full_page=True)

    await page.reload()  # the choice is remembered
    await expect(page.locator("h1")).to_have_text("NotaryLink remote notarization")


async def test_english_browser_gets_english(client: TestClient, browser: Browser) -> None:
    page = await browser.new_page(locale="en-GB")
    await page.goto(str(client.make_url("/")))
    await expect(page.locator("h1")).to_have_text("NotaryLink remote notarization")
