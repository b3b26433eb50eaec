"""The interview record in real Chromium: the notary writes two entries in the console and closes
the record; the applicant reads it, draws a signature on the pad and confirms; the console shows
the confirmation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_session import join_as_applicant, open_console, pass_prejoin
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

CreateRoom = Callable[..., Awaitable[dict[str, Any]]]


async def write_entry(notary: Page, question: str, answer: str) -> None:
    panel = notary.locator("#record-panel")
    await panel.get_by_label("Question", exact=True).fill(question)
    await panel.get_by_label("Answer", exact=True).fill(answer)
    await panel.get_by_role("button", name="Add to the record").click()


async def draw_signature(page: Page) -> None:
    pad = page.locator("[data-sign=pad]")
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box is not None
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    await page.mouse.move(x + w * 0.1, y + h * 0.7)
    await page.mouse.down()
    for i in range(1, 21):
        await page.mouse.move(x + w * (0.1 + 0.04 * i), y + h * (0.7 - 0.4 * (i % 2)), steps=3)
    await page.mouse.up()


async def test_the_applicant_signs_the_record_the_console_sees_it(
    client: TestClient, camera_browser: Browser, create_room: CreateRoom
) -> None:
    links = await create_room([{"role": "applicant", "name": "张三"}])
    applicant_id = links["applicant"]["participant_id"]
    applicant = await (await camera_browser.new_context(locale="zh-CN")).new_page()
    notary = await (await camera_browser.new_context(locale="en-GB")).new_page()
    await join_as_applicant(applicant, links["applicant"]["url"])
    await open_console(notary, links["notary"]["url"])
    waiting = notary.locator(f"#lobby li[data-participant='{applicant_id}']")
    await waiting.get_by_role("button", name="Admit 张三").click()
    await expect(applicant.locator("[data-stage=call]")).to_be_visible()
    await notary.get_by_role("button", name="Start session").click()
    await expect(applicant.locator("#session-state")).to_have_text("会话状态：进行中")

    panel = notary.locator("#record-panel")
    await write_entry(notary, "您申请办理什么公证？", "出生公证。")
    await write_entry(notary, "是否本人自愿申请？", "是。")
    entries = panel.locator("[data-record=entries] li")
    await expect(entries).to_have_count(2)
    await expect(entries.nth(1)).to_contain_text("是否本人自愿申请？")
    await expect(entries.nth(1).locator("[data-time-code]")).to_have_text(
        re.compile(r"^00:00:\d\d$")
    )
    # An edit is a new version of the entry.
    await entries.nth(0).get_by_role("button", name="Edit").click()
    await panel.get_by_label("Answer", exact=True).fill("出生公证（用于留学）。")
    await panel.get_by_role("button", name="Save the change").click()
    await expect(entries.nth(0)).to_contain_text("version 2")
    await expect(entries.nth(0)).to_contain_text("用于留学")

    await panel.get_by_label("Certificate delivery").select_option("electronic")
    await panel.get_by_role("button", name="Close the record and ask for confirmation").click()
    await expect(panel.locator("[data-record=state]")).to_have_attribute("data-state", "closed")

    sign = applicant.locator("#record-sign")
    await expect(sign).to_be_visible()
    await expect(sign.locator("[data-sign=text]")).to_contain_text("出生公证（用于留学）。")
    await expect(sign.locator("[data-sign=text]")).to_contain_text("电子送达")
    await sign.get_by_role("button", name="签名确认").click()  # nothing drawn yet
    await expect(sign.locator("[data-sign=status]")).to_have_text("请先在签名区签名。")
    await draw_signature(applicant)
    await applicant.screenshot(path=str(ARTIFACTS / "interview-sign-zh.png"), full_page=True)
    await sign.get_by_role("button", name="签名确认").click()
    await expect(sign.locator("[data-sign=status]")).to_have_text("您已签名确认本笔录，谢谢。")

    confirmer = panel.locator(f"[data-record=confirmers] li[data-participant='{applicant_id}']")
    await expect(confirmer).to_have_attribute("data-confirmed", "true")
    await expect(confirmer).to_contain_text("Signed and confirmed")
    await expect(panel.locator("[data-record=state]")).to_have_attribute("data-state", "confirmed")
    ARTIFACTS.mkdir(exist_ok=True)
    await notary.screenshot(path=str(ARTIFACTS / "interview-console-en.png"), full_page=True)


async def test_a_consulate_record_the_site_officer_attests_the_passport_check(
    client: TestClient, camera_browser: Browser, create_room: CreateRoom
) -> None:
    links = await create_room(
        [{"role": "applicant", "name": "张三"}, {"role": "site_officer", "name": "Officer Wang"}]
    )
    officer_id = links["site_officer"]["participant_id"]
    officer = await (await camera_browser.new_context(locale="en-GB")).new_page()
    notary = await (await camera_browser.new_context(locale="zh-CN")).new_page()
    await officer.goto(links["site_officer"]["url"])
    await pass_prejoin(officer)
    await officer.locator("#consent-recording").check()
    await officer.locator("#consent-continue").click()
    await notary.goto(links["notary"]["url"])
    await pass_prejoin(notary)
    waiting = notary.locator(f"#lobby li[data-participant='{officer_id}']")
    await waiting.get_by_role("button").first.click()
    await expect(officer.locator("[data-stage=call]")).to_be_visible()
    await notary.get_by_role("button", name="开始会话").click()

    panel = notary.locator("#record-panel")
    await panel.get_by_label("问题", exact=True).fill("您是否会经使馆寄回签字原件？")
    await panel.get_by_label("回答", exact=True).fill("会。")
    await panel.get_by_role("button", name="记入笔录").click()
    await panel.get_by_label("证书送达方式").select_option("post")
    await panel.get_by_role("button", name="结束笔录并请当事人确认").click()
    await expect(notary.locator("#alert")).to_contain_text("寄送纸质原件的承诺")
    paper = panel.locator("[data-record=paper]")
    await expect(paper).to_be_visible()
    await paper.get_by_label("经由的使领馆").fill("中国驻柏林大使馆")
    await paper.get_by_label("预计寄出日期").fill("2026-12-01")
    await paper.get_by_role("button", name="记录承诺").click()
    await expect(panel.locator("[data-record=paper-state]")).to_contain_text("中国驻柏林大使馆")
    await panel.get_by_role("button", name="结束笔录并请当事人确认").click()

    sign = officer.locator("#record-sign")
    await expect(sign.locator("[data-sign=text]")).to_contain_text("中国驻柏林大使馆")
    await draw_signature(officer)
    await sign.get_by_role("button", name="Sign and confirm").click()
    await expect(sign.locator("[data-sign=status]")).to_have_text(
        "Please tick the passport statement first."
    )
    await sign.get_by_label("I checked the applicant's passport in person").check()
    await sign.get_by_role("button", name="Sign and confirm").click()
    await expect(sign.locator("[data-sign=status]")).to_contain_text("You have signed")
    confirmer = panel.locator(f"[data-record=confirmers] li[data-participant='{officer_id}']")
    await expect(confirmer).to_contain_text("已当面核验护照")
    # The applicant has not confirmed yet: the record is not complete.
    await expect(panel.locator("[data-record=state]")).to_have_attribute("data-state", "closed")
    await notary.screenshot(
        path=str(ARTIFACTS / "interview-console-consulate-zh.png"), full_page=True
    )
