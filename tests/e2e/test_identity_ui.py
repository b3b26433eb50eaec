"""Identity in real Chromium: the notary asks for the ID document held up to the camera, the
applicant's page takes a full-resolution still and sends it; the console shows the ID face and
starts the liveness check by itself after the first match; the applicant's page shows the
steps, big, with a countdown.

The applicant's fake camera is a still photograph: obama.jpg cropped around the face to a
640x480 head shot (as a webcam frames a face), made into a Y4M by ffmpeg. It matches his ID
photo, and it must then fail the liveness check it triggers.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image as PILImage
from playwright.async_api import Browser, expect

from identity.id_document import load_image
from tests import support
from tests.e2e.conftest import ffmpeg_or_skip, launch
from tests.e2e.test_session import join_as_applicant, open_console
from tests.identity.poses import headshot
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

CreateRoom = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture(scope="module")
def still_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    photo = support.testdata_or_skip("faces/obama.jpg")
    folder = tmp_path_factory.mktemp("still")
    head = folder / "head.png"
    PILImage.fromarray(headshot(load_image(photo.read_bytes()))).save(head)
    y4m = folder / "still.y4m"
    subprocess.run(
        [
            *(ffmpeg_or_skip(), "-loglevel", "error", "-y", "-loop", "1", "-i", str(head)),
            *("-t", "1", "-r", "10", "-pix_fmt", "yuv420p", str(y4m)),
        ],
        check=True,
        timeout=60,
    )
    return y4m


@pytest.fixture
async def still_browser(still_camera: Path) -> AsyncIterator[Browser]:
    args = [
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={still_camera}",
    ]
    async for opened in launch(args):
        yield opened


async def test_console_shows_the_id_face_and_the_applicant_the_liveness_steps(
    client: TestClient, still_browser: Browser, create_room: CreateRoom
) -> None:
    links = await create_room([{"role": "applicant", "name": "张三"}])
    applicant = await (await still_browser.new_context(locale="zh-CN")).new_page()
    notary = await (await still_browser.new_context(locale="en-GB")).new_page()
    await join_as_applicant(applicant, links["applicant"]["url"])
    await open_console(notary, links["notary"]["url"])
    await notary.get_by_role("button", name="Admit 张三").click()
    await expect(applicant.locator("[data-stage=call]")).to_be_visible()

    # The console's liveness controls are there before any ID photo.
    start = notary.get_by_role("button", name="Start liveness check")
    await expect(start).to_be_visible()
    await expect(notary.locator("#liveness-auto")).to_be_checked()
    await expect(notary.locator("#id-face-box")).to_be_hidden()

    # The ID photo from the applicant's camera (the fake camera shows his photograph).
    await notary.locator("#id-photo-form select[name=kind]").select_option("cn_resident_id")
    await notary.get_by_role("button", name="Ask for a camera photo of the ID").click()
    await expect(notary.locator("#identity-status")).to_contain_text("was asked to hold")
    capture = applicant.locator("#id-capture")
    await expect(capture).to_be_visible()
    await expect(capture).to_contain_text("居民身份证")
    await applicant.get_by_role("button", name="拍摄").click()
    await expect(applicant.locator("#id-capture-status")).to_have_text(
        "已收到证件照片，谢谢。", timeout=20_000
    )
    await expect(notary.locator("#identity-status")).to_contain_text("ID photo taken by 张三")
    face = notary.locator("#id-face")
    await expect(notary.locator("#id-face-box")).to_be_visible(timeout=15_000)
    assert await face.evaluate("img => img.complete && img.naturalWidth") > 0
    await expect(face).to_have_attribute("alt", "The face found on the ID photo")

    # The first match starts the challenge by itself; the applicant sees the steps in Chinese.
    await expect(notary.locator("#identity-history li[data-kind=match]").first).to_be_visible(
        timeout=30_000
    )
    prompt = applicant.locator("#liveness")
    await expect(prompt).to_be_visible(timeout=10_000)
    await expect(applicant.locator("#liveness-now")).to_contain_text("请")
    steps = applicant.locator("#liveness-steps li")
    assert await steps.count() in (2, 3)
    await expect(applicant.locator("#liveness-countdown")).to_contain_text("剩余")
    await expect(start).to_be_disabled()
    ARTIFACTS.mkdir(exist_ok=True)
    await applicant.screenshot(path=str(ARTIFACTS / "liveness-applicant-zh.png"), full_page=True)

    # A still photograph does not pass; both pages say so, calmly.
    status = notary.locator("#liveness-status")
    await expect(status).to_have_attribute("data-state", "failed", timeout=30_000)
    await expect(status).to_contain_text("Not passed")
    await expect(applicant.locator("#liveness-now")).to_have_text(
        "这次没有完成。公证员可能会请您再试一次。"
    )
    await expect(start).to_be_enabled()
    await expect(notary.locator("#identity-history li[data-kind=liveness_failed]")).to_have_count(1)

    # Between full checks (every 15 s) the match goes on with presence checks (every 3 s): one
    # calm line with its time, never a score and never in the history; the last full verdict
    # stays shown with its time.
    await expect(notary.locator("#id-presence")).to_have_text(
        re.compile(r"^Present · \d\d:\d\d:\d\d$"), timeout=20_000
    )
    await expect(notary.locator("#identity-history li[data-kind=present]")).to_have_count(0)
    await expect(notary.locator("#id-face-latest")).to_have_text(
        re.compile(r"^Latest: match · \d\d:\d\d:\d\d$")
    )
    await notary.screenshot(path=str(ARTIFACTS / "liveness-console-en.png"), full_page=True)
