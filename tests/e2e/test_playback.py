"""Playback in real Chromium: a call recorded through the real server (participants played by
aiortc clients), then the notary opens its playback from the desk: the verdict, both videos
playing on one clock, and the timeline seeking them."""

from __future__ import annotations

import asyncio
import io
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from recorder.store_source import StoreSource
from signaling.appkeys import API, PLATFORM
from tests import support
from tests.e2e.conftest import ffmpeg_or_skip
from tests.media.harness import wait_for
from tests.media.looping import LoopingPlayer
from tests.signaling.callclient import CallClient, admit
from tests.support import ARTIFACTS

pytestmark = pytest.mark.e2e

CreateRoom = Callable[..., Awaitable[dict[str, Any]]]

VIDEO_STATE = """() => window.notarylinkPlayback.players.map((p) => ({
  id: p.id, ready: p.ready, failed: p.failed, offset: p.offset,
  time: p.video.currentTime, width: p.video.videoWidth, paused: p.video.paused,
  duration: p.video.duration,
}))"""


@pytest.fixture(scope="module")
def person_webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real person on camera as VP8/Opus WebM (keyframe every second), for the applicant."""
    clip = support.testdata_or_skip("video/lin-manuel-miranda-clip.mp4")
    ffmpeg = ffmpeg_or_skip()
    out = tmp_path_factory.mktemp("person") / "person.webm"
    subprocess.run(
        [
            *(ffmpeg, "-loglevel", "error", "-y", "-i", str(clip), "-t", "8"),
            *("-vf", "scale=480:270", "-c:v", "libvpx", "-b:v", "500k", "-g", "30", "-r", "30"),
            *("-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus", "-ac", "1"),
            *("-ar", "48000", str(out)),
        ],
        check=True,
        timeout=120,
    )
    return out


def _seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1e6


async def record_a_call(
    client: TestClient, links: dict[str, Any], media: dict[str, Path]
) -> tuple[str, list[CallClient]]:
    """Notary and applicant talk for about six seconds; half-way the notary mutes the
    applicant's microphone (an event in the middle of the timeline)."""
    platform = client.app[PLATFORM]
    # Not MediaPlayer(loop=True): it floods after its first pass (tests/media/looping.py).
    players = {role: LoopingPlayer(path, _seconds(path)) for role, path in media.items()}
    calls = {
        role: CallClient(client, links[role]["token"], [player.audio, player.video])
        for role, player in players.items()
    }
    notary, applicant = calls["notary"], calls["applicant"]
    try:
        await notary.connect()
        await applicant.connect()
        await admit(notary, applicant)
        await notary.send({"type": "start"})
        await wait_for(
            lambda: applicant.frames_from(notary.participant_id, "video") >= 90,
            30,
            "three seconds",
        )
        await notary.send({"type": "mute", "participant": applicant.participant_id, "audio": True})
        await applicant.wait_for("mute_state")
        await asyncio.sleep(3)
        await notary.send({"type": "end"})
        await wait_for(
            lambda: any(e.get("state") == "ended" for e in applicant.events), 15, "the end"
        )
        # The seal is written locally first, then uploaded (pending_seals tracks that part).
        await wait_for(lambda: _sealed_locally(platform), 30, "the seal")
        await platform.wait_for_seals()
    finally:
        for call in calls.values():
            await call.close()
        for player in players.values():
            player.stop()
    return str(links["room"]["id"]), list(calls.values())


async def open_playback(page: Page, client: TestClient, token: str, session_id: str) -> None:
    """From the notary's desk (already logged in, in this tab), through the Recordings box."""
    await page.goto(str(client.make_url("/static/staff.html")))
    await page.evaluate("(t) => sessionStorage.setItem('notarylink.staffToken', t)", token)
    await page.reload()
    await expect(page.locator("#recordings h2")).to_have_text("录像回放")
    await page.get_by_label("会话编号").fill(session_id)
    await page.get_by_role("link", name="打开回放").click()
    await page.wait_for_url(f"**/static/playback.html?session={session_id}")


async def test_the_notary_plays_back_a_recorded_session(
    client: TestClient,
    browser: Browser,
    create_room: CreateRoom,
    notary_token: str,
    webm: Path,
    person_webm: Path,
) -> None:
    links = await create_room([{"role": "applicant", "name": "张三"}], title="委托书公证 视频询问")
    session_id, _ = await record_a_call(client, links, {"notary": webm, "applicant": person_webm})

    page = await browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await open_playback(page, client, notary_token, session_id)

    # The verdict first, in words.
    verdict = page.locator("#verdict")
    await expect(verdict).to_have_attribute("data-ok", "true", timeout=60_000)
    await expect(page.locator("#verdict-text")).to_have_text("已核验：证据完整，未被改动")
    await expect(page.locator("#verdict-failures li")).to_have_count(0)
    await expect(page.locator("#session-title")).to_have_text("委托书公证 视频询问")
    await expect(page.locator(".tile")).to_have_count(2)
    await expect(page.locator(".tile figcaption")).to_contain_text(["李公证员", "张三"])

    # Both joined files load (the first request builds them), then one button plays both.
    await expect(page.locator("#play")).to_be_enabled(timeout=60_000)
    await expect(page.locator("#play")).to_have_text("播放")
    state = await page.evaluate(VIDEO_STATE)
    assert all(v["ready"] and not v["failed"] for v in state), state
    await page.locator("#play").click()
    await expect(page.locator("#play")).to_have_text("暂停")
    await page.wait_for_function(
        """() => window.notarylinkPlayback.clock() > 1.5 &&
                 window.notarylinkPlayback.players.every((p) => p.video.currentTime > 0.5)""",
        timeout=20_000,
    )
    # Kept together: every video where the clock says it should be (one snapshot of both).
    clock, state = await page.evaluate(
        f"() => [window.notarylinkPlayback.clock(), ({VIDEO_STATE})()]"
    )
    assert all(v["width"] > 0 and not v["paused"] for v in state), state
    for video in state:
        assert abs(video["time"] - (clock - video["offset"])) < 0.3, (clock, state)

    # The timeline: every event in words, the mute in the middle.
    events = page.locator("#timeline li")
    await expect(events.first).to_contain_text("开始录制")
    await expect(events.last).to_contain_text("停止录制")
    mute = page.locator("#timeline li[data-type='mute_state']")
    await expect(mute).to_contain_text("麦克风关")
    await expect(mute).to_contain_text("张三 · 当事人")
    target = float(await mute.get_attribute("data-offset") or "0")
    assert target > 2, target

    # Clicking an event moves every video there (paused, so the clock stays put to check).
    await page.locator("#play").click()
    await expect(page.locator("#play")).to_have_text("播放")
    await page.locator("#timeline li[data-type='recording_started'] button").click()
    await page.wait_for_function("() => window.notarylinkPlayback.clock() < 0.5")
    await mute.locator("button").click()
    # (A recording may end before the session does, e.g. media starved on a loaded machine:
    # that video then waits at its end.)
    await page.wait_for_function(
        """(target) => Math.abs(window.notarylinkPlayback.clock() - target) < 0.05 &&
             window.notarylinkPlayback.players.every((p) => {
               const expected = Math.min(Math.max(0, target - p.offset), p.video.duration);
               return Math.abs(p.video.currentTime - expected) < 0.2 && !p.video.seeking;
             })""",
        arg=target,
        timeout=10_000,
    )
    await expect(mute).to_have_attribute("data-current", "true")
    await expect(page.locator("#time")).to_contain_text(f"0:{int(target):02d} /")

    # Played from there, the clock runs on and every video still recording follows it.
    await page.locator("#play").click()
    await page.wait_for_function(
        """(t) => window.notarylinkPlayback.clock() >
                   Math.min(t + 1.5, window.notarylinkPlayback.duration - 0.2)""",
        arg=target,
        timeout=10_000,
    )
    clock, state = await page.evaluate(
        f"() => [window.notarylinkPlayback.clock(), ({VIDEO_STATE})()]"
    )
    for video in state:
        if clock - video["offset"] < video["duration"] - 0.2:
            assert abs(video["time"] - (clock - video["offset"])) < 0.3, (clock, state)
        else:
            assert video["time"] >= video["duration"] - 0.5, (clock, state)  # at its end
    if await page.evaluate("window.notarylinkPlayback.playing"):
        await page.locator("#play").click()

    await mute.locator("button").click()  # a frame from the middle, for the screenshot
    await page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "playback-zh.png"), full_page=True)

    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#verdict-text")).to_have_text(
        "Verified: the evidence is complete and unaltered"
    )
    await expect(mute).to_contain_text("microphone off")
    await page.screenshot(path=str(ARTIFACTS / "playback-en.png"), full_page=True)

    # Someone goes around the platform and writes over a segment: the object lock keeps the
    # sealed version, the raw PUT only adds a newer one (one byte flipped), and the verdict
    # names the file as altered.
    platform = client.app[PLATFORM]
    source = StoreSource.for_session(platform.store, platform.settings.evidence_bucket, session_id)
    segment = next(name for name in source.names() if name.endswith("000001.webm"))
    original = source.read(segment) or b""
    middle = len(original) // 2
    forged = original[:middle] + bytes([original[middle] ^ 0xFF]) + original[middle + 1 :]
    platform.store.client.put_object(
        platform.settings.evidence_bucket, source.prefix + segment, io.BytesIO(forged), len(forged)
    )
    handler = next(
        op.handler for op in client.app[API].operations if op.path == "/api/recordings/{session_id}"
    )
    handler.__self__._verdicts.clear()  # type: ignore[attr-defined]  # verdicts live 5 minutes
    await page.get_by_role("button", name="中文").click()
    await page.reload()
    await expect(verdict).to_have_attribute("data-ok", "false", timeout=60_000)
    await expect(page.locator("#verdict-text")).to_have_text("未通过核验：证据不完整或已被改动")
    failure = page.locator("#verdict-failures li")
    await expect(failure).to_have_count(1)
    await expect(failure).to_contain_text("录像分段")
    await expect(failure).to_contain_text(f"{segment}: content differs from its sealed hash")
    await expect(page.locator("#play")).to_be_enabled(timeout=30_000)  # still plays what is sealed
    await page.screenshot(path=str(ARTIFACTS / "playback-altered-zh.png"), full_page=True)
    assert not problems, problems


async def test_playback_without_a_login_says_where_to_log_in(
    client: TestClient, browser: Browser
) -> None:
    page = await browser.new_page(locale="zh-CN")
    await page.goto(str(client.make_url("/static/playback.html?session=r-0000000000000000")))
    await expect(page.locator("#message")).to_have_text("请先在公证员工作台登录，再打开回放。")
    await page.evaluate("() => sessionStorage.setItem('notarylink.staffToken', 'not-a-token')")
    await page.reload()
    await expect(page.locator("#message")).to_have_text("登录已过期，请在公证员工作台重新登录。")


def _sealed_locally(platform: Any) -> bool:
    return any((platform.settings.data_dir / "spool").glob("*/sealed/manifest.json"))
