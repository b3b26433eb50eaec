"""A browser that prefers H.264: Chromium publishes H.264 and the other page decodes it, forwarded
by the server as encoded frames like VP8 (docs/media.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_session import join_as_applicant, open_console, wait_for_frames

pytestmark = pytest.mark.e2e

CreateRoom = Callable[..., Awaitable[dict[str, Any]]]

# Run before the page's scripts: every video transceiver lists H.264 first, as a browser
# configured to prefer it (hardware encoder, policy) would offer.
PREFER_H264 = """(() => {
  const original = RTCPeerConnection.prototype.createOffer;
  RTCPeerConnection.prototype.createOffer = function (...args) {
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
    const h264 = codecs.filter((c) => c.mimeType === "video/H264");
    const rest = codecs.filter((c) => c.mimeType !== "video/H264");
    for (const transceiver of this.getTransceivers()) {
      if (transceiver.receiver.track.kind === "video" && !transceiver.stopped) {
        transceiver.setCodecPreferences([...h264, ...rest]);
      }
    }
    return original.apply(this, args);
  };
})();"""

INBOUND_VIDEO_CODECS = """async () => {
  const pc = window.notarylinkCall && window.notarylinkCall.pc;
  if (!pc) return [];
  const stats = await pc.getStats();
  const codecs = [];
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video" && s.codecId && s.framesDecoded > 0) {
      codecs.push(stats.get(s.codecId).mimeType);
    }
  });
  return codecs;
}"""


async def inbound_video_codecs(page: Page) -> list[str]:
    return list(await page.evaluate(INBOUND_VIDEO_CODECS))


async def test_h264_both_ways_through_the_server(
    client: TestClient, camera_browser: Browser, create_room: CreateRoom
) -> None:
    links = await create_room([{"role": "applicant", "name": "张三"}])
    applicant_id = links["applicant"]["participant_id"]
    pages = []
    for locale in ("zh-CN", "en-GB"):
        context = await camera_browser.new_context(locale=locale)
        await context.add_init_script(PREFER_H264)
        pages.append(await context.new_page())
    applicant, notary = pages

    await join_as_applicant(applicant, links["applicant"]["url"])
    await open_console(notary, links["notary"]["url"])
    waiting = notary.locator(f"#lobby li[data-participant='{applicant_id}']")
    await waiting.get_by_role("button", name="Admit 张三").click()
    await expect(applicant.locator("[data-stage=call]")).to_be_visible()

    first = [await wait_for_frames(page, 0, timeout=20) for page in pages]
    await asyncio.sleep(1.5)
    later = [
        await wait_for_frames(page, count + 15) for page, count in zip(pages, first, strict=True)
    ]
    assert all(b > a for a, b in zip(first, later, strict=True)), (first, later)
    # What each page decodes is H.264: the server forwarded it as such, without transcoding.
    for page in pages:
        assert await inbound_video_codecs(page) == ["video/H264"]
