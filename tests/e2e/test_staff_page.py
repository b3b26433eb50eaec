"""The notary's desk in real Chromium: log in, create a session, get one join link each."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from notary.accounts import create_account, ensure_office
from notary.roles import Role
from signaling.appkeys import PLATFORM
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

PASSWORD = "desk passphrase 2026"


async def test_notary_logs_in_and_creates_a_session(client: TestClient, browser: Browser) -> None:
    async with client.app[PLATFORM].engine.begin() as conn:
        office = await ensure_office(
            conn, "GZ", "广州公证处", "Guangzhou Notary Office", "Asia/Shanghai"
        )
        await create_account(
            conn,
            role=Role.NOTARY,
            display_name="李公证员",
            login="li@example.org",
            password=PASSWORD,
            office_id=office,
        )
    page = await browser.new_page(locale="zh-CN")
    await page.goto(str(client.make_url("/static/staff.html")))
    await expect(page.locator("h1")).to_have_text("公证员工作台")

    await page.get_by_label("邮箱或手机号").fill("li@example.org")
    await page.get_by_label("密码").fill("wrong passphrase!!")
    await page.get_by_role("button", name="登录").click()
    await expect(page.locator("#message")).to_have_text("账号或密码错误。")

    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.locator("#who")).to_contain_text("李公证员")
    await page.get_by_label("标题").fill("委托书公证 视频询问")
    await page.get_by_label("案件编号").fill("2026-GZ-0001")
    await page.get_by_label("当事人姓名").fill("张三")
    await page.get_by_role("button", name="创建并生成入会链接").click()
    items = page.locator("#link-list li")
    await expect(items).to_have_count(2)
    roles = [await item.get_attribute("data-role") for item in await items.all()]
    assert roles == ["notary", "applicant"]
    url = await items.nth(1).locator("input").input_value()
    assert "/static/session.html#token=" in url
    assert await page.evaluate("location.search") == ""  # nothing secret in the address bar
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "staff-zh.png"), full_page=True)
