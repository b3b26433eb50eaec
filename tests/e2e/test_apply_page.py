"""Applying in real Chromium: read a matter's complete notice, register, open a case, upload a
material with the progress bar showing, see a disguised file refused, submit."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image
from playwright.async_api import Browser, expect

from notary.accounts import ensure_office
from notary.materials import list_materials
from signaling.appkeys import PLATFORM
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e


def noisy_png(path: Path) -> Path:
    """A few megabytes that do not compress, so the upload takes some progress events."""
    image = Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_the_notice_then_apply_and_upload(
    client: TestClient, browser: Browser, tmp_path: Path
) -> None:
    async with client.app[PLATFORM].engine.begin() as conn:
        await ensure_office(conn, "GZ", "广州公证处", "Guangzhou Notary Office", "Asia/Shanghai")
    page = await browser.new_page(locale="zh-CN")

    # The public notice, before any account.
    await page.goto(str(client.make_url("/static/matters.html?matter=kinship")))
    await expect(page.locator("#notice-name")).to_have_text("亲属关系")
    materials = page.locator("#notice-materials li")
    await expect(materials).to_have_count(4)
    await expect(page.locator("#notice-materials")).to_contain_text("可告知承诺")
    await expect(page.locator("#notice-materials")).to_contain_text("可共享核验")
    await expect(page.locator("#notice-fee")).to_contain_text("100")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#notice-name")).to_have_text("Kinship")
    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("#notice-name")).to_have_text("亲属关系")
    await page.get_by_role("link", name="在线申请").click()

    # Register, which logs in, then open a case for the matter chosen on the notice.
    await page.wait_for_url("**/apply.html?matter=kinship")
    register = page.locator("#register-form")
    await register.get_by_label("姓名").fill("张三")
    await register.get_by_label("邮箱或手机号").fill("zhangsan@mail.example")
    await register.get_by_label("密码（至少 10 个字符）").fill("applicant passphrase 2026")
    await page.get_by_role("button", name="注册并登录").click()
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#matter")).to_have_value("kinship")
    await page.get_by_label("申请人为老年人").check()
    await page.get_by_role("button", name="创建申请").click()
    await expect(page.locator("#case-state")).to_have_text("草稿")

    row = page.locator('li[data-requirement="applicant_id"]')
    disguised = tmp_path / "身份证.png"
    disguised.write_bytes(b"MZ\x90\x00" + b"\x00" * 4096)  # a program posing as a scan
    await row.locator('input[type="file"]').set_input_files(str(disguised))
    await row.get_by_role("button", name="上传", exact=True).click()
    await expect(page.locator("#message")).to_have_text("只接受 JPEG、PNG 或 PDF 文件。")

    scan = noisy_png(tmp_path / "scan.png")
    row = page.locator('li[data-requirement="applicant_id"]')
    await row.locator('input[type="file"]').set_input_files(str(scan))
    await row.get_by_role("button", name="上传", exact=True).click()
    bar = row.locator("progress")
    await expect(bar).to_be_visible()
    await expect(row).to_contain_text("上传完成")
    assert await bar.evaluate("b => b.value === b.max && b.max > 0")
    await expect(row).to_contain_text("scan.png")
    await expect(row).to_contain_text("已提供")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "apply-upload-zh.png"), full_page=True)

    # The rest by commitment and shared-data consent; then submit.
    await (
        page.locator('li[data-requirement="kinship_evidence"]')
        .get_by_role("button", name="签署告知承诺")
        .click()
    )
    await expect(page.locator('li[data-requirement="kinship_evidence"]')).to_contain_text("已提供")
    await (
        page.locator('li[data-requirement="household_register"]')
        .get_by_role("button", name="同意通过共享数据核验")
        .click()
    )
    await expect(page.locator('li[data-requirement="household_register"]')).to_contain_text(
        "已提供"
    )
    await page.get_by_role("button", name="提交预审").click()
    await expect(page.locator("#case-state")).to_have_text("已提交，待预审")
    case_id = await page.locator("#case-id").text_content()
    assert case_id
    async with client.app[PLATFORM].engine.connect() as conn:
        stored = await list_materials(conn, case_id)
    assert [(m.requirement, m.kind.value) for m in stored] == [
        ("applicant_id", "upload"),
        ("kinship_evidence", "commitment"),
        ("household_register", "shared_data"),
    ]
    assert stored[0].size == scan.stat().st_size
    assert await page.evaluate("location.search") == "?matter=kinship"  # no token in the URL
