"""The applicant's case page and the supervisor's desk in real Chromium: delivery status,
rating and complaint by the applicant; the complaint answered and a finding recorded."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from notary import checks, decision, delivery, feedback
from notary.cases import CaseState, get_case, transition
from notary.tables import cases
from signaling.appkeys import PLATFORM
from tests.e2e.staff_pages import (
    APPLICANT_LOGIN,
    NOTARY_LOGIN,
    SUPERVISOR_LOGIN,
    add_supervisor,
    birth_case,
    interview,
    open_logged_in,
)
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

PASSWORD = "aftercare passphrase 2026"


@dataclass
class Setting:
    case_id: str
    applicant: str
    supervisor: str


async def delivered_case(client: TestClient) -> Setting:
    """A `birth` case of zs@example.org, approved, issued and delivered by post with tracking;
    a supervisor sup@example.org of the same office."""
    async with client.app[PLATFORM].engine.begin() as conn:
        world = await birth_case(conn, PASSWORD, applicant_password=PASSWORD)
        supervisor = await add_supervisor(conn, world.office, PASSWORD)
        await interview(conn, world)
        case, notary = world.case, world.notary
        await decision.decide(
            conn, case.id, notary_id=notary, outcome="approved", reasons="材料齐全，属实"
        )
        await transition(
            conn, case.id, CaseState.CERTIFICATE_ISSUED, actor_id=notary, actor_role="notary"
        )
        by = {"actor_id": notary, "actor_role": "notary"}
        await delivery.choose(conn, case.id, method="pickup", address=None, **by)
        await delivery.advance(conn, case.id, to="ready", **by)
        await delivery.advance(conn, case.id, to="delivered", note="本人领取", **by)
    return Setting(case.id, world.applicant, supervisor)


async def test_the_applicant_sees_delivery_rates_and_complains(
    client: TestClient, browser: Browser
) -> None:
    setting = await delivered_case(client)
    page = await open_logged_in(client, browser, "/static/my-case.html", APPLICANT_LOGIN, PASSWORD)
    await page.locator(f'button[data-case-id="{setting.case_id}"]').click()
    await expect(page.locator("#case-state")).to_have_text("已送达")
    await expect(page.locator("#decision")).to_have_text("准予公证 — 材料齐全，属实")
    await expect(page.locator("#delivery-facts")).to_contain_text("到公证处领取")
    await expect(page.locator("#delivery-steps li")).to_have_count(3)
    await expect(page.locator("#delivery-steps")).to_contain_text("本人领取")
    await expect(page.locator("#delivery-form")).to_be_hidden()

    await page.get_by_label("好评").check()
    await page.get_by_label("意见（可选）").fill("办理很快")
    await page.get_by_role("button", name="提交评价").click()
    await expect(page.locator("#rating-done")).to_have_text("您的评价：好评 — 办理很快")
    await expect(page.locator("#rating-form")).to_be_hidden()

    await page.get_by_label("投诉内容（将送交监督部门）").fill("取证时等候太久")
    await page.get_by_role("button", name="提交投诉").click()
    await expect(page.locator("#complaints li")).to_contain_text("待答复")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "my-case-zh.png"), full_page=True)
    async with client.app[PLATFORM].engine.connect() as conn:
        rating = await feedback.get_rating(conn, setting.case_id)
        complaints = await feedback.complaints_of_case(conn, setting.case_id)
    assert rating is not None and (rating.score, rating.comment) == (5, "办理很快")
    assert [c.body for c in complaints] == ["取证时等候太久"]


async def test_the_method_agreed_in_the_interview_is_offered_first(
    client: TestClient, browser: Browser
) -> None:
    async with client.app[PLATFORM].engine.begin() as conn:
        world = await birth_case(conn, PASSWORD, applicant_password=PASSWORD)
        await interview(conn, world)
        await delivery.note_agreed(
            conn,
            world.case.id,
            delivery.Method.POST,
            actor_id=world.notary,
            actor_role="notary",
            session_id="r-0123456789abcdef",
        )
        await decision.decide(
            conn, world.case.id, notary_id=world.notary, outcome="approved", reasons="材料齐全"
        )
    page = await open_logged_in(client, browser, "/static/my-case.html", APPLICANT_LOGIN, PASSWORD)
    await page.locator(f'button[data-case-id="{world.case.id}"]').click()
    await expect(page.locator("#delivery-facts")).to_contain_text("视频询问中约定")
    await expect(page.locator("#delivery-facts")).to_contain_text("邮寄")
    await expect(page.locator('#delivery-form input[value="post"]')).to_be_checked()
    await page.get_by_label("邮寄地址（仅邮寄时填写）").fill("上海市黄浦区 1 号")
    await page.get_by_role("button", name="保存").click()
    await expect(page.locator("#delivery-facts")).to_contain_text("准备中")
    async with client.app[PLATFORM].engine.connect() as conn:
        chosen = await delivery.get_delivery(conn, world.case.id)
    assert chosen is not None and chosen.method is delivery.Method.POST
    assert chosen.address == "上海市黄浦区 1 号"


async def test_the_applicant_joins_the_interview_from_the_case_page(
    client: TestClient, browser: Browser
) -> None:
    async with client.app[PLATFORM].engine.begin() as conn:
        world = await birth_case(conn, PASSWORD, applicant_password=PASSWORD)
        await interview(conn, world)
        # Booked, not yet interviewed: the session is due.
        await conn.execute(
            cases.update().where(cases.c.id == world.case.id).values(state="scheduled")
        )
    page = await open_logged_in(client, browser, "/static/my-case.html", APPLICANT_LOGIN, PASSWORD)
    await page.locator(f'button[data-case-id="{world.case.id}"]').click()
    join = page.get_by_role("button", name="进入视频询问")
    await join.click()  # before the notary opened it
    await expect(page.locator("#message")).to_contain_text("尚未开启")

    login = await client.post("/api/auth/login", json={"login": NOTARY_LOGIN, "password": PASSWORD})
    notary = (await login.json())["token"]
    opened = await client.post(
        "/api/rooms",
        json={
            "title": "出生公证 视频询问",
            "case_ref": world.case.id,
            "participants": [{"role": "applicant", "name": "张三"}],
        },
        headers={"Authorization": f"Bearer {notary}"},
    )
    assert opened.status == 201
    # The link names the platform's public address (settings), not this test server's: the
    # navigation is answered here, and the page keeps the URL it was sent to.
    await page.route("**/static/session.html", lambda route: route.fulfill(body="session"))
    await join.click()
    await page.wait_for_url("**/static/session.html#token=*")
    seat = next(link for link in (await opened.json())["links"] if link["role"] == "applicant")
    token = page.url.split("#token=", 1)[1]
    claims = client.app[PLATFORM].tokens.verify_join(token)
    assert claims.participant_id == seat["participant_id"]
    # In this tab (logged in on the case page) the session page joins with it; forwarded to
    # another browser, the same link is refused in plain words.
    session_url = str(client.make_url("/static/session.html")) + f"#token={token}"
    await page.unroute("**/static/session.html")
    await page.goto(session_url)
    await expect(page.locator("#check-connection")).to_have_attribute("data-state", "ok")
    elsewhere = await browser.new_page(locale="zh-CN")
    await elsewhere.goto(session_url)
    await expect(elsewhere.locator("#check-connection")).to_have_attribute("data-state", "failed")
    await expect(elsewhere.locator("#check-connection .check-detail")).to_contain_text(
        "只能由本案件的申请人使用"
    )


async def test_the_supervisor_answers_and_records_a_finding(
    client: TestClient, browser: Browser
) -> None:
    setting = await delivered_case(client)
    async with client.app[PLATFORM].engine.begin() as conn:
        case = await get_case(conn, setting.case_id)
        assert case is not None
        complaint = await feedback.complain(
            conn, case, applicant_id=setting.applicant, body="waited too long"
        )
        await checks.draw(conn, supervisor_id=setting.supervisor, count=1)
    page = await open_logged_in(
        client, browser, "/static/supervise.html?lang=en", SUPERVISOR_LOGIN, PASSWORD, "en"
    )
    item = page.locator(f'#complaints li[data-complaint-id="{complaint.id}"]')
    await expect(item).to_contain_text("waited too long")
    await item.get_by_label("Your answer").fill("We asked the office to add a second desk.")
    await item.get_by_role("button", name="Answer").click()
    await expect(page.locator("#message")).to_have_text("Saved.")
    await expect(item).to_have_count(0)  # no longer open
    await page.locator("#complaint-state").select_option("answered")
    await expect(page.locator("#complaints")).to_contain_text("second desk")

    row = page.locator(f'#checks tr[data-case-id="{setting.case_id}"]')
    await expect(row).to_contain_text("birth")
    await row.get_by_role("button", name="Record findings").click()
    await page.get_by_label("Minor").check()
    await page.get_by_label("What was found").fill("Pick-up not signed.")
    await page.get_by_role("button", name="Save finding").click()
    await expect(page.locator("#findings li")).to_contain_text("Pick-up not signed.")
    await expect(row).to_contain_text("1 · Minor")
    await page.screenshot(path=str(ARTIFACTS / "supervise-en.png"), full_page=True)
    async with client.app[PLATFORM].engine.connect() as conn:
        answered = await feedback.get_complaint(conn, complaint.id)
    assert answered is not None and answered.state is feedback.ComplaintState.ANSWERED
