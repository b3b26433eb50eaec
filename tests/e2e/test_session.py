"""Live sessions in real Chromium against the real server: pre-join, consent, lobby, admission,
video both ways through the server's forwarding, network figures on the console, reconnecting,
and both languages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from tests import support
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

CreateRoom = Callable[..., Awaitable[dict[str, Any]]]

FRAMES_DECODED = """async () => {
  const pc = window.notarylinkCall && window.notarylinkCall.pc;
  if (!pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
  });
  return frames;
}"""


async def frames_decoded(page: Page) -> int:
    return int(await page.evaluate(FRAMES_DECODED))


async def wait_for_frames(page: Page, above: int, timeout: float = 15.0) -> int:
    """framesDecoded of the page's inbound video once it exceeds `above`."""
    deadline = time.monotonic() + timeout
    frames = 0
    while time.monotonic() < deadline:
        frames = await frames_decoded(page)
        if frames > above:
            return frames
        await asyncio.sleep(0.25)
    raise AssertionError(f"inbound video stuck at {frames} decoded frames (wanted > {above})")


async def pass_prejoin(page: Page) -> None:
    await expect(page.locator("#check-connection")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#check-devices")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#prejoin-continue")).to_be_enabled()
    await page.locator("#prejoin-continue").click()


async def join_as_applicant(page: Page, url: str) -> None:
    """Pre-join check, both consents (each one required), then the lobby."""
    await page.goto(url)
    await expect(page.locator("h1")).to_contain_text("视频询问")
    await expect(page.locator("#who")).to_contain_text("张三")
    await pass_prejoin(page)
    consent = page.locator("#consent-continue")
    await expect(consent).to_be_disabled()
    await page.locator("#consent-recording").check()
    await expect(consent).to_be_disabled()  # face processing is a separate, required consent
    await page.locator("#consent-face").check()
    await consent.click()
    await expect(page.locator("[data-stage=lobby]")).to_be_visible()
    await expect(page.locator("#lobby-position")).to_have_text("您是下一位。")


async def open_console(page: Page, url: str) -> None:
    await page.goto(url)
    await expect(page.locator("h1")).to_contain_text("Notary console")
    await pass_prejoin(page)
    await expect(page.locator("[data-stage=call]")).to_be_visible()


async def test_applicant_and_notary_see_each_other_through_the_server(
    client: TestClient, camera_browser: Browser, create_room: CreateRoom
) -> None:
    links = await create_room([{"role": "applicant", "name": "张三"}])
    applicant_id = links["applicant"]["participant_id"]
    applicant_context = await camera_browser.new_context(locale="zh-CN")
    notary_context = await camera_browser.new_context(locale="en-GB")
    applicant = await applicant_context.new_page()
    notary = await notary_context.new_page()
    ARTIFACTS.mkdir(exist_ok=True)

    await join_as_applicant(applicant, links["applicant"]["url"])
    await open_console(notary, links["notary"]["url"])

    waiting = notary.locator(f"#lobby li[data-participant='{applicant_id}']")
    await expect(waiting).to_contain_text("张三")
    await waiting.get_by_role("button", name="Admit 张三").click()
    await expect(applicant.locator("[data-stage=call]")).to_be_visible()
    await expect(notary.locator("#lobby li")).to_have_count(0)

    # Each page decodes the other's video, forwarded by the server, and keeps decoding it.
    first = [await wait_for_frames(page, 0) for page in (applicant, notary)]
    await asyncio.sleep(2)
    later = [
        await wait_for_frames(page, count + 20)
        for page, count in zip((applicant, notary), first, strict=True)
    ]
    assert all(b > a for a, b in zip(first, later, strict=True)), (first, later)

    # Tiles are labelled with the other participant's name and role.
    applicant_tile = notary.locator(f".tile[data-participant='{applicant_id}']")
    await expect(applicant_tile.locator("figcaption")).to_contain_text("张三")
    await expect(applicant_tile.locator("figcaption")).to_contain_text("Applicant")
    notary_tile = applicant.locator(
        f".tile[data-participant='{links['notary']['participant_id']}']"
    )
    await expect(notary_tile.locator("figcaption")).to_contain_text("李公证员")
    assert await applicant_tile.locator("video").evaluate("v => v.videoWidth") > 0

    # The session goes live for both; the applicant mutes, the console shows it.
    await notary.get_by_role("button", name="Start session").click()
    await expect(applicant.locator("#session-state")).to_have_text("会话状态：进行中")
    await applicant.get_by_role("button", name="关闭麦克风").click()
    await expect(applicant.get_by_role("button", name="打开麦克风")).to_have_attribute(
        "aria-pressed", "true"
    )
    person = notary.locator(f"#people li[data-participant='{applicant_id}']")
    await expect(person).to_contain_text("muted")
    await expect(person.get_by_role("button", name="Mute 张三")).to_be_disabled()

    # The console's network figures for the applicant (pushed by the server every 5 s).
    row = notary.locator(f"#stats-body tr[data-participant='{applicant_id}']")
    await expect(row).to_be_visible(timeout=12_000)
    await expect(row.locator("[data-stat=fps]")).not_to_have_text("—")
    await expect(row.locator("[data-stat=bitrate]")).to_contain_text("bit/s")
    await expect(applicant.locator("#network")).not_to_have_attribute(
        "data-quality", "unknown", timeout=12_000
    )

    await notary.screenshot(path=str(ARTIFACTS / "session-console-en.png"), full_page=True)
    await applicant.screenshot(path=str(ARTIFACTS / "session-applicant-zh.png"), full_page=True)

    # The applicant leaves; the console sees it.
    await applicant.get_by_role("button", name="离开会话").click()
    await expect(applicant.locator("[data-stage=ended]")).to_be_visible()
    await expect(person.locator(".badge").first).to_have_text("Left")
    await applicant_context.close()
    await notary_context.close()


async def test_a_dropped_connection_reconnects_and_video_flows_again(
    client: TestClient, camera_browser: Browser, create_room: CreateRoom
) -> None:
    links = await create_room([{"role": "applicant", "name": "张三"}])
    applicant_id = links["applicant"]["participant_id"]
    applicant = await (await camera_browser.new_context(locale="zh-CN")).new_page()
    notary = await (await camera_browser.new_context(locale="en-GB")).new_page()
    await join_as_applicant(applicant, links["applicant"]["url"])
    await open_console(notary, links["notary"]["url"])
    await notary.get_by_role("button", name="Admit 张三").click()
    await wait_for_frames(notary, 10)
    await wait_for_frames(applicant, 10)

    # The socket drops (not a leave): the page reconnects with the same link.
    await applicant.evaluate("window.notarylinkCall.ws.close(4999, 'test drop')")
    await expect(applicant.locator("#banner")).to_contain_text("连接已恢复", timeout=10_000)
    person = notary.locator(f"#people li[data-participant='{applicant_id}']")
    await expect(person).to_have_attribute("data-presence", "admitted")
    # A fresh media connection on both sides; video flows both ways again.
    await wait_for_frames(applicant, 10)
    await wait_for_frames(notary, 10)
    frames = await frames_decoded(notary)
    await wait_for_frames(notary, frames + 20)
    # The console's tile for the applicant shows the new track, and it is receiving.
    await notary.wait_for_function(
        """id => {
          const video = document.querySelector(`.tile[data-participant='${id}'] video`);
          const track = video && video.srcObject && video.srcObject.getVideoTracks()[0];
          return track && !track.muted && video.videoWidth > 0;
        }""",
        arg=applicant_id,
        timeout=10_000,
    )
    await expect(applicant.locator("[data-stage=call]")).to_be_visible()


async def test_switching_the_language_changes_the_page(
    client: TestClient, browser: Browser, create_room: CreateRoom
) -> None:
    links = await create_room([{"role": "observer", "name": "督导员"}])
    page = await browser.new_page(locale="en-US")
    await page.goto(links["observer"]["url"])
    await expect(page.locator("#prejoin-title")).to_have_text("Before you join")
    await expect(page.locator("#check-connection .check-state")).to_have_text("OK")
    await expect(page.locator("#who")).to_contain_text("as Observer")
    await expect(page.locator("#observer-note")).to_be_visible()  # observers skip the camera

    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("#prejoin-title")).to_have_text("进入前检查")
    await expect(page.locator("#check-connection .check-state")).to_have_text("正常")
    await expect(page.locator("#who")).to_contain_text("观察员")
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "session-observer-zh.png"), full_page=True)

    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#prejoin-continue")).to_have_text("Continue")
    await page.reload()  # the choice is remembered
    await expect(page.locator("#prejoin-title")).to_have_text("Before you join")


async def test_a_broken_link_is_explained_in_plain_words(
    client: TestClient, browser: Browser
) -> None:
    page = await browser.new_page(locale="zh-CN")
    await page.goto(str(client.make_url("/static/session.html")) + "#token=not-a-token")
    await expect(page.locator("#check-connection")).to_have_attribute("data-state", "failed")
    await expect(page.locator("#check-connection .check-detail")).to_have_text(
        "该链接无效，请向公证处索取新的链接。"
    )
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#check-connection .check-detail")).to_have_text(
        "This link is not valid. Please ask the notary office for a new one."
    )


async def test_the_console_checks_identity_and_records_the_decision(
    client: TestClient, camera_browser: Browser, create_room: CreateRoom
) -> None:
    id_photo = support.testdata_or_skip("faces/lin-manuel-miranda.png")
    links = await create_room([{"role": "applicant", "name": "张三"}])
    applicant_id = links["applicant"]["participant_id"]
    applicant = await (await camera_browser.new_context(locale="zh-CN")).new_page()
    notary = await (await camera_browser.new_context(locale="zh-CN")).new_page()
    await join_as_applicant(applicant, links["applicant"]["url"])  # consents to face processing
    await notary.goto(links["notary"]["url"])
    await pass_prejoin(notary)
    await notary.locator(f"#lobby li[data-participant='{applicant_id}'] button").first.click()
    await expect(applicant.locator("[data-stage=call]")).to_be_visible()
    await wait_for_frames(notary, 0)

    await notary.locator("#id-photo-form input[type=file]").set_input_files(str(id_photo))
    await notary.get_by_role("button", name="上传证件照片").click()
    await expect(notary.locator("#identity-status")).to_have_text(
        "已取得证件人脸，正在与当事人实时画面比对。", timeout=20_000
    )
    # Live results arrive in the panel (the fake camera's face is small: any verdict will do).
    await expect(notary.locator("#identity-history li").first).to_be_visible(timeout=20_000)
    await notary.get_by_role("button", name="由现场人员当面核验确认").click()
    await expect(notary.locator("#identity-status")).to_have_text(
        "已记录决定：由现场人员当面核验确认"
    )
    await notary.screenshot(path=str(ARTIFACTS / "console-identity-zh.png"), full_page=True)
