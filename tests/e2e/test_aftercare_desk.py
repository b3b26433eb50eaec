"""The office's aftercare desk in real Chromium: a collective discussion recorded, the decision
made, and a post delivery dispatched, its receipt uploaded and the case delivered."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from notary import decision, delivery
from notary.cases import CaseState, get_case, transition
from signaling.appkeys import PLATFORM
from tests.e2e.staff_pages import NOTARY_LOGIN, birth_case, interview, open_logged_in
from tests.notary import material_files as files
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

PASSWORD = "aftercare desk passphrase 2026"


async def interviewed_case(client: TestClient) -> tuple[str, str, str]:
    """(case id, notary id, applicant id): a `birth` case interviewed by li@example.org."""
    async with client.app[PLATFORM].engine.begin() as conn:
        world = await birth_case(conn, PASSWORD)
        await interview(conn, world)
    return world.case.id, world.notary, world.applicant


async def test_the_notary_decides_after_a_discussion_and_delivers(
    client: TestClient, browser: Browser
) -> None:
    case_id, notary, applicant = await interviewed_case(client)
    page = await open_logged_in(client, browser, "/static/aftercare.html", NOTARY_LOGIN, PASSWORD)
    item = page.locator(f'#to-decide li[data-case-id="{case_id}"]')
    await expect(item).to_contain_text("出生")
    await item.get_by_label("疑难问题").fill("境外出生医学证明能否采信？")
    await item.get_by_role("button", name="提交集体讨论").click()
    await expect(item).to_contain_text("待结论：集体讨论")
    await item.get_by_label("讨论记录").fill("经讨论，认为证明经认证后可以采信。")
    await item.get_by_label("参加人员（每行一人：姓名，职务）").fill(
        "李公证员，主持\n王主任，公证处主任"
    )
    await item.get_by_role("button", name="建议准予").click()
    await expect(page.locator("#message")).to_have_text("已保存。")
    await item.get_by_role("button", name="准予公证").click()
    await expect(page.locator("#message")).to_have_text("请填写理由。")
    await item.get_by_label("理由").fill("材料经认证，属实")
    await item.get_by_role("button", name="准予公证").click()
    await expect(page.locator("#message")).to_have_text("已保存。")
    await expect(page.locator("#to-decide li")).to_have_text("没有待办。")

    async with client.app[PLATFORM].engine.begin() as conn:
        made = await decision.get_decision(conn, case_id)
        [referral] = await decision.list_referrals(conn, case_id)
        await transition(
            conn, case_id, CaseState.CERTIFICATE_ISSUED, actor_id=notary, actor_role="notary"
        )
        await delivery.choose(
            conn,
            case_id,
            method="post",
            address="广州市越秀区 2 号",
            actor_id=applicant,
            actor_role="applicant",
        )
    assert made is not None and made.outcome is decision.Outcome.APPROVED
    assert referral.participants == [
        {"name": "李公证员", "role": "主持"},
        {"name": "王主任", "role": "公证处主任"},
    ]

    await page.reload()
    row = page.locator(f'#to-deliver li[data-case-id="{case_id}"]')
    await expect(row).to_contain_text("邮寄 · 准备中")
    await expect(row).to_contain_text("广州市越秀区 2 号")
    await row.get_by_label("快递公司").fill("EMS")
    await row.get_by_label("运单号").fill("EA123456789CN")
    await row.get_by_role("button", name="已寄出 / 已发送").click()
    await expect(row).to_contain_text("EMS EA123456789CN")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "aftercare-desk-zh.png"), full_page=True)
    await row.get_by_role("button", name="已送达").click()
    await expect(page.locator("#message")).to_have_text("请先上传签收回执。")
    await row.get_by_label("签收回执（图片或 PDF）").set_input_files(
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": files.png()}]
    )
    await row.get_by_role("button", name="上传回执").click()
    await expect(page.locator("#message")).to_have_text("已保存。")
    await row.get_by_role("button", name="已送达").click()
    await expect(page.locator("#to-deliver li")).to_have_text("没有待办。")
    async with client.app[PLATFORM].engine.connect() as conn:
        done = await get_case(conn, case_id)
        sent = await delivery.get_delivery(conn, case_id)
    assert done is not None and done.state is CaseState.DELIVERED
    assert sent is not None and sent.receipt_content_type == "image/png"

    # Delivered: the case waits to be archived, and is archived from the desk.
    archive = page.locator(f'#to-archive li[data-case-id="{case_id}"]')
    await expect(archive).to_contain_text("已送达")
    await archive.get_by_label("归档说明（可选）").fill("卷宗齐全")
    await archive.get_by_role("button", name="归档").click()
    await expect(page.locator("#to-archive li")).to_have_text("没有待办。")
    async with client.app[PLATFORM].engine.connect() as conn:
        archived = await get_case(conn, case_id)
    assert archived is not None and archived.state is CaseState.ARCHIVED


async def test_a_refused_case_is_archived_from_the_desk(
    client: TestClient, browser: Browser
) -> None:
    case_id, notary, _ = await interviewed_case(client)
    async with client.app[PLATFORM].engine.begin() as conn:
        await decision.decide(
            conn, case_id, notary_id=notary, outcome="refused", reasons="材料不真实"
        )
    page = await open_logged_in(
        client, browser, "/static/aftercare.html?lang=en", NOTARY_LOGIN, PASSWORD, "en"
    )
    row = page.locator(f'#to-archive li[data-case-id="{case_id}"]')
    await expect(row).to_contain_text("refused")
    await row.get_by_role("button", name="Archive").click()
    await expect(page.locator("#message")).to_have_text("Saved.")
    await expect(page.locator("#to-archive li")).to_have_text("Nothing to do.")
    async with client.app[PLATFORM].engine.connect() as conn:
        archived = await get_case(conn, case_id)
    assert archived is not None and archived.state is CaseState.ARCHIVED
