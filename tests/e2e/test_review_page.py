"""Pre-review in real Chromium: the notary's queue, a material opened in the browser, and the
one notice that returns the case to the applicant."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from notary import materials as material_records
from notary.accounts import create_account
from notary.cases import CaseState, get_case
from notary.materials import sniff, store_upload
from notary.recusal import assign, declare
from notary.review import submit
from notary.roles import Role
from signaling.appkeys import PLATFORM
from tests.e2e.staff_pages import (
    NOTARY_LOGIN,
    SUPERVISOR_LOGIN,
    add_supervisor,
    birth_case,
    log_in,
    open_logged_in,
)
from tests.notary import material_files as files
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

PASSWORD = "review passphrase 2026"


async def submitted_case(client: TestClient) -> str:
    """A submitted, elderly applicant's `birth` case with every material stored, assigned to
    li@example.org; a supervisor sup@example.org of the same office."""
    platform = client.app[PLATFORM]
    await platform.bootstrap_store()
    scan = files.png(320, 200)
    async with platform.engine.begin() as conn:
        world = await birth_case(conn, PASSWORD, elderly=True)
        case, matter, applicant = world.case, world.matter, world.applicant
        for requirement in (
            "applicant_id",
            "birth_medical_certificate",
            "household_register",
            "parents_id",
        ):
            data = scan if requirement == "applicant_id" else files.png(10 + len(requirement), 9)
            sniffed = sniff(data, "a.png")
            stored = store_upload(
                platform.store,
                platform.settings.materials_bucket,
                case.id,
                requirement,
                data,
                sniffed,
                platform.retention_class(matter.retention_class),
            )
            await material_records.record_upload(
                conn,
                case,
                matter,
                requirement=requirement,
                file_name=f"{requirement}.png",
                sniffed=sniffed,
                stored=stored,
                actor_id=applicant,
                actor_role="applicant",
            )
        await submit(conn, case, matter, actor_id=applicant, actor_role="applicant")
        await assign(conn, case, notary_id=world.notary, actor_id=world.notary, actor_role="admin")
        await add_supervisor(conn, world.office, PASSWORD)
    return case.id


async def test_the_notary_returns_a_case_with_one_notice(
    client: TestClient, browser: Browser
) -> None:
    case_id = await submitted_case(client)
    page = await open_logged_in(client, browser, "/static/review.html", NOTARY_LOGIN, PASSWORD)
    row = page.locator(f'#queue tr[data-case-id="{case_id}"]')
    await expect(row).to_contain_text("出生")
    await expect(row).to_contain_text("老年人")
    await row.get_by_role("button", name="打开").click()
    await expect(page.locator("#case-state")).to_have_text("已提交，待预审")

    await page.get_by_role("button", name="查看: applicant_id.png").click()
    preview = page.locator("#preview")
    await expect(preview).to_be_visible()
    size = (
        await page.frame_locator("#preview")
        .locator("img")
        .evaluate("img => [img.naturalWidth, img.naturalHeight]")
    )
    assert size == [320, 200]  # the uploaded scan itself, opened in the browser

    await page.get_by_role("button", name="发送一次性补正通知").click()
    await expect(page.locator("#message")).to_have_text("请至少填写一项问题，或直接受理。")
    await page.locator('tr[data-requirement="parents_id"] input').fill("缺少母亲的身份证件")
    await page.get_by_label("给申请人的说明").fill("请一并补正")
    await page.get_by_role("button", name="发送一次性补正通知").click()
    await expect(page.locator("#message")).to_have_text("补正通知已发送。")
    await expect(page.locator("#case-state")).to_have_text("已退回补正")
    await expect(page.locator("#earlier-notices")).to_contain_text("缺少母亲的身份证件")
    await expect(page.locator(f'#queue tr[data-case-id="{case_id}"]')).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "review-notice-zh.png"), full_page=True)
    async with client.app[PLATFORM].engine.connect() as conn:
        returned = await get_case(conn, case_id)
    assert returned is not None and returned.state is CaseState.RETURNED


async def test_a_supervisor_is_sent_to_the_supervision_page_and_reads_a_drawn_file(
    client: TestClient, browser: Browser
) -> None:
    case_id = await submitted_case(client)
    page = await open_logged_in(
        client, browser, "/static/review.html?lang=en", SUPERVISOR_LOGIN, PASSWORD, "en"
    )
    # review.html keeps no supervisor tools of its own: one page for that, linked.
    await expect(page.locator("#supervision-section")).to_contain_text("supervision page")
    await expect(page.locator("#draw-count")).to_have_count(0)
    await page.get_by_role("link", name="go to Supervision").click()
    await expect(page).to_have_url(client.make_url("/static/supervise.html").human_repr())

    await log_in(page, SUPERVISOR_LOGIN, PASSWORD, "en")
    await expect(page.locator('dd[data-stat="sup.stat.total"]')).to_have_text("1")
    await expect(page.locator('dd[data-stat="sup.stat.priority"]')).to_have_text("1")
    await expect(page.locator("#checks tr")).to_have_count(0)
    await page.get_by_label("Cases to draw").fill("3")
    await page.get_by_role("button", name="Draw at random").click()
    await expect(page.locator("#message")).to_have_text("1 drawn.")
    row = page.locator(f'#checks tr[data-case-id="{case_id}"]')
    await expect(page.locator('dd[data-stat="sup.stat.drawn"]')).to_have_text("1")
    await row.get_by_role("button", name="Record findings").click()
    await expect(page.locator("#file-parties")).to_contain_text("张三")
    await page.get_by_role("button", name="View: applicant_id.png").click()
    await expect(page.locator("#preview")).to_be_visible()
    await expect(page.locator('dd[data-stat="sup.stat.drawn"]')).to_have_text("1")


async def test_an_admin_assigns_and_edits_the_catalog(client: TestClient, browser: Browser) -> None:
    case_id = await submitted_case(client)
    platform = client.app[PLATFORM]
    async with platform.engine.begin() as conn:
        case = await get_case(conn, case_id)
        assert case is not None
        ids = {}
        for name, role in (("admin", Role.ADMIN), ("wang", Role.NOTARY), ("zhao", Role.NOTARY)):
            account = await create_account(
                conn,
                role=role,
                display_name=name,
                login=f"{name}@example.org",
                password=PASSWORD,
                office_id=case.office_id,
            )
            ids[name] = account.id
        await declare(
            conn,
            case,
            notary_id=ids["zhao"],
            kind="relative",
            relationship="spouse",
            reason="配偶",
            actor_id=case.applicant_account_id,
            actor_role="applicant",
        )
    page = await open_logged_in(
        client, browser, "/static/review.html", "admin@example.org", PASSWORD
    )

    row = page.locator("#office-cases tr")
    await expect(row).to_have_count(1)
    select = row.get_by_label("承办公证员")
    await expect(select.locator("option")).to_have_count(3)
    await expect(select.locator("option", has_text="zhao")).to_be_disabled()  # close relative
    await select.select_option(ids["wang"])
    await row.get_by_role("button", name="分配").click()
    await expect(page.locator("#message")).to_have_text("已分配。")
    async with platform.engine.connect() as conn:
        assigned = await get_case(conn, case_id)
    assert assigned is not None and assigned.assigned_notary_id == ids["wang"]

    await page.locator("#catalog-matter").select_option("birth")
    await expect(page.get_by_label("基准收费（元）")).to_have_value("100.00")
    await page.get_by_label("基准收费（元）").fill("120")
    await page.locator("#catalog-form").get_by_label("理由").fill("2027 年价目表")
    await page.get_by_role("button", name="保存修改").click()
    await expect(page.locator("#message")).to_have_text("已保存（第 2 版）。")
    public = await client.get("/api/matters/birth")
    assert (await public.json())["matter"]["fee"]["base_cents"] == 12000
