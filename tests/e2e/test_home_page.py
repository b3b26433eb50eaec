"""The home page in real Chromium: both languages, and the live status of the platform."""

from __future__ import annotations

import re

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


PAGES = [
    "matters",
    "apply",
    "book",
    "hours",
    "review",
    "my-case",
    "aftercare",
    "supervise",
    "verify",
]


@pytest.mark.parametrize("start", ["/", "/static/staff.html"])
async def test_the_home_page_and_the_notary_desk_link_every_page(
    client: TestClient, browser: Browser, start: str
) -> None:
    page = await browser.new_page(locale="en-US")
    await page.goto(str(client.make_url(start)))
    links = page.locator("#pages a")
    hrefs = set(await links.evaluate_all("links => links.map((a) => a.getAttribute('href'))"))
    assert {f"/static/{name}.html" for name in PAGES} <= hrefs
    english = await links.all_inner_texts()
    await page.get_by_role("button", name="中文").click()
    chinese = await links.all_inner_texts()
    assert all(english) and all(chinese)
    assert not set(english) & set(chinese)  # every link is named in each language
    await page.locator("#pages a[href='/static/supervise.html']").click()
    await expect(page.locator("h1")).to_have_text("监督管理")


@pytest.mark.parametrize("name", ["index", "staff", *PAGES, "session", "console", "playback"])
async def test_each_page_has_its_title_in_both_languages(
    client: TestClient, browser: Browser, name: str
) -> None:
    page = await browser.new_page()
    titles = {}
    for lang in ("zh-CN", "en"):
        await page.goto(str(client.make_url(f"/static/{name}.html?lang={lang}")))
        heading = (await page.locator("h1 [data-i18n], h1[data-i18n]").first.inner_text()).strip()
        assert heading, f"{name}: no heading in {lang}"
        await expect(page).to_have_title(re.compile(re.escape(heading)))
        titles[lang] = (heading, await page.title())
    assert titles["zh-CN"][0] != titles["en"][0], titles
    assert titles["zh-CN"][1] != titles["en"][1], titles
