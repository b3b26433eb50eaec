"""The public verification page in real Chromium, in Chinese: by code, by the QR link, by file."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from notary.cases import CaseState
from notary.certificate import IssuedCertificate, issue
from signaling.appkeys import PLATFORM
from signaling.certificates_api import CERTIFICATES
from tests.notary.certificate_world import case_in_state, make_world
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e


async def _issued(client: TestClient) -> IssuedCertificate:
    async with client.app[PLATFORM].engine.begin() as conn:
        world = await make_world(conn)
        case_id = await case_in_state(conn, world, CaseState.DECIDED)
        return await issue(
            conn,
            case_id=case_id,
            actor_id=world.notary,
            actor_role="notary",
            statement_zh="兹证明张三于一九九〇年一月一日出生于上海市。",
            statement_en="This is to certify that Zhang San was born in Shanghai.",
            keyring=client.app[CERTIFICATES].keyring,
            verify_url=str(client.make_url("/static/verify.html")),
        )


async def test_verification_page_in_chinese(
    client: TestClient, browser: Browser, tmp_path: Path
) -> None:
    issued = await _issued(client)
    page = await browser.new_page(locale="zh-CN")
    await page.goto(str(client.make_url("/static/verify.html")))
    await expect(page.locator("h1")).to_have_text("公证书核验")

    await page.get_by_label("公证书编号").fill(issued.number)
    await page.get_by_label("验证码").fill("AAAA-BBBB-CCCC")
    await page.get_by_role("button", name="核验", exact=True).click()
    await expect(page.locator("#verdict")).to_have_text("未通过核验")
    await expect(page.locator("#reason")).to_contain_text("编号与验证码不匹配")

    await page.get_by_label("验证码").fill(issued.verification_code.lower())
    await page.get_by_role("button", name="核验", exact=True).click()
    await expect(page.locator("#verdict")).to_have_text("真实有效")
    await expect(page.locator("#fact-number")).to_have_text(issued.number)
    await expect(page.locator("#fact-matter")).to_have_text("出生")
    await expect(page.locator("#fact-office")).to_have_text("上海市东方公证处")
    assert "张三" not in await page.locator("main").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "verify-zh.png"), full_page=True)

    # The language switch redraws the result in English.
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#verdict")).to_have_text("Genuine")
    await page.get_by_role("button", name="中文").click()

    # A tampered file is refused, the issued one accepted.
    tampered = bytearray(issued.pdf)
    tampered[len(tampered) // 3] ^= 0x01
    (tmp_path / "tampered.pdf").write_bytes(bytes(tampered))
    (tmp_path / "certificate.pdf").write_bytes(issued.pdf)
    upload = page.get_by_label("PDF文件")
    await upload.set_input_files(str(tmp_path / "tampered.pdf"))
    await page.get_by_role("button", name="上传并核验").click()
    await expect(page.locator("#verdict")).to_have_text("未通过核验")
    await expect(page.locator("#reason")).to_contain_text("可能被改动过")
    await upload.set_input_files(str(tmp_path / "certificate.pdf"))
    await page.get_by_role("button", name="上传并核验").click()
    await expect(page.locator("#verdict")).to_have_text("真实有效")

    # The QR code's link checks at once and leaves no code in the address bar.
    qr = await browser.new_page(locale="zh-CN")
    link = f"/static/verify.html#n={issued.number}&c={issued.verification_code}"
    await qr.goto(str(client.make_url(link)))
    await expect(qr.locator("#verdict")).to_have_text("真实有效")
    assert issued.verification_code not in qr.url
