"""The Janus participant: its event plumbing (no janus needed), and a real session if present."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import aioice.ice
import pytest
from aiortc import RTCRtpReceiver

from tests.bench import janus
from tests.bench.forwarding import free_port
from tests.bench.janus_client import JanusError, JanusParticipant, JanusSession, plugin_result
from tests.bench.latency import FrameKey
from tests.bench.paced_source import EncodedFile
from tests.bench.rtp_probe import RtpProbe
from tests.bench.source import media_duration


def test_plugin_result_returns_the_data_and_raises_errors() -> None:
    data = {"videoroom": "joined", "id": 5}
    assert plugin_result({"janus": "event", "plugindata": {"data": data}}) == data
    with pytest.raises(JanusError, match="428"):
        plugin_result(
            {"janus": "event", "plugindata": {"data": {"error_code": 428, "error": "No such feed"}}}
        )
    with pytest.raises(JanusError, match="458"):
        plugin_result({"janus": "error", "error": {"code": 458, "reason": "No such session"}})


async def test_events_reach_their_waiters_and_signals() -> None:
    async with aiohttp.ClientSession() as http:
        session = JanusSession(http, "http://127.0.0.1:1/janus")
        waiter = asyncio.get_running_loop().create_future()
        session._waiting["t9"] = waiter
        session._dispatch({"janus": "ack", "transaction": "t9"})  # not the answer yet
        assert not waiter.done()
        answer = {"janus": "event", "transaction": "t9", "sender": 7, "plugindata": {}}
        session._dispatch(answer)
        assert waiter.result() is answer

        up = asyncio.create_task(session.wait_event("webrtcup", 7, timeout=2))
        await asyncio.sleep(0)
        session._dispatch({"janus": "webrtcup", "sender": 7})
        await up  # set by the event, not by the timeout
        with pytest.raises(TimeoutError):
            await session.wait_event("hangup", 7, timeout=0.05)

        session._dispatch({"janus": "slowlink", "sender": 7})
        assert session.events[-1]["janus"] == "slowlink"


@pytest.fixture
def host_ice(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if reason := janus.available():
        pytest.skip(f"janus is not installed: {reason}")
    try:
        address = janus.host_address()
    except janus.JanusMissing as exc:
        pytest.skip(str(exc))
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda **_: [address])
    yield address


@pytest.mark.timeout(90)
async def test_two_parties_through_janus_videoroom(
    tmp_path: Path, webm: Path, host_ice: str
) -> None:
    config = janus.JanusConfig(
        work_dir=tmp_path / "janus", http_port=free_port(), rooms=1, ice_address=host_ice
    )
    source = EncodedFile(webm, media_duration(webm))
    received: dict[str, list[FrameKey | None]] = {"a/video": [], "a/audio": [], "b/video": []}
    received["b/audio"] = []
    probes: list[RtpProbe] = []

    def sink(name: str):  # type: ignore[no-untyped-def]
        def on_track(kind: str, receiver: RTCRtpReceiver) -> None:
            frames = received[f"{name}/{kind}"]
            probes.append(RtpProbe(receiver, kind, lambda key, size, kf: frames.append(key)))

        return on_track

    async with janus.running(config), aiohttp.ClientSession() as http:
        players = [source.participant(), source.participant()]
        parties = [
            JanusParticipant(http, config.base_url, config.room(0), [p.audio, p.video], n, sink(n))
            for p, n in zip(players, ("a", "b"), strict=True)
        ]
        try:
            feeds = [await party.publish() for party in parties]
            assert feeds[0] != feeds[1]
            await parties[0].subscribe(feeds[1])
            await parties[1].subscribe(feeds[0])
            async with asyncio.timeout(30):
                while min(len(received["a/video"]), len(received["b/video"])) < 30:
                    await asyncio.sleep(0.05)
        finally:
            for party in parties:
                await party.close()
            for player in players:
                player.stop()
    assert received["a/audio"] and received["b/audio"]
    # Janus forwards without transcoding: what arrives is what the file holds.
    sent_keys = {bytes(p.data[:32]) for p in source.streams["video"].packets}
    assert set(received["a/video"][:30]) <= sent_keys
    recordings = janus.recordings(config)
    assert len(recordings) == 4  # audio and video of each publisher
    assert all(p.stat().st_size > 8 for p in recordings)  # more than the header
