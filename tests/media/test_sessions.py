"""Two and three parties through the server: audio and video flow in every direction."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from media import EncodedFrame, Subscription
from tests.media.harness import Session, wait_for

pytestmark = pytest.mark.unit

MIN_VIDEO = 30  # frames decoded per received video track (of ~120 sent)
MIN_AUDIO = 50  # frames decoded per received audio track (of ~200 sent)


def _flowing(session: Session, others: int) -> bool:
    for client in session.clients.values():
        videos, audios = client.received_of("video"), client.received_of("audio")
        if len(videos) != others or len(audios) != others:
            return False
        if any(r.decoded < MIN_VIDEO for r in videos) or any(r.decoded < MIN_AUDIO for r in audios):
            return False
    return True


async def test_two_parties_exchange_audio_and_video(session: Session, webm: Path) -> None:
    for name in ("notary", "applicant"):
        player = session.player(webm)
        await session.join(name, [player.audio, player.video])

    await wait_for(lambda: _flowing(session, others=1), timeout=8, what="media both ways")

    for peer in session.room.peers:
        assert {p.kind for p in peer.publications} == {"audio", "video"}
        assert {p.kind for p in peer.subscriptions} == {"audio", "video"}


async def test_three_parties_each_receive_both_others(session: Session, webm: Path) -> None:
    for name in ("notary", "applicant", "witness"):
        player = session.player(webm)
        await session.join(name, [player.audio, player.video])

    await wait_for(lambda: _flowing(session, others=2), timeout=10, what="media among three")

    # Each participant receives exactly the other two, never itself.
    for peer in session.room.peers:
        senders = {p.participant_id for p in peer.subscriptions}
        assert senders == {"notary", "applicant", "witness"} - {peer.participant_id}


async def test_network_stats_report_rates_and_rtt(session: Session, webm: Path) -> None:
    for name in ("notary", "applicant"):
        player = session.player(webm)
        await session.join(name, [player.audio, player.video])
    peer = session.room.get("applicant")
    assert peer is not None
    await wait_for(lambda: _flowing(session, others=1), timeout=8, what="media both ways")
    await peer.network_stats()  # start a fresh interval
    await asyncio.sleep(1.0)
    stats = await peer.network_stats()

    assert stats.participant_id == "applicant"
    assert 0.9 < stats.interval_s < 2.0
    # ~300 kbit/s of VP8 plus Opus each way; loopback loses nothing.
    assert stats.inbound_bitrate_bps > 100_000
    assert stats.outbound_bitrate_bps > 100_000
    assert stats.inbound_frame_rate is not None and 20 <= stats.inbound_frame_rate <= 40
    assert stats.inbound_loss == 0.0
    assert stats.packets_lost_inbound == 0
    # RTT needs a sender report answered by a receiver report: give RTCP a few rounds.
    for _ in range(30):
        if stats.rtt_s is not None:
            break
        await asyncio.sleep(0.1)
        stats = await peer.network_stats()
    assert stats.rtt_s is not None and 0 <= stats.rtt_s < 0.5


async def test_recorder_stream_that_is_never_read_stays_bounded(
    session: Session, webm: Path
) -> None:
    player = session.player(webm)
    notary = await session.join("notary", [player.audio, player.video])
    assert notary.peer is not None
    stream = notary.peer.subscribe_encoded(max_frames=16, max_bytes=256 * 1024)
    other = session.player(webm)
    await session.join("applicant", [other.audio, other.video])

    await wait_for(lambda: stream.dropped > 100, timeout=8, what="drops on an unread stream")

    assert stream.queued_frames <= 16
    assert stream.queued_bytes <= 256 * 1024
    assert stream.delivered == 0
    # The forwarded copies of the same publications did not suffer from it.
    applicant = session.clients["applicant"]
    await wait_for(
        lambda: all(r.decoded >= MIN_VIDEO for r in applicant.received_of("video")),
        timeout=8,
        what="forwarding beside the stuck stream",
    )
    # Queued frames are what the stream holds; it also asked for keyframes after drops.
    assert stream.keyframe_requests >= 1
    kinds = {frame.kind for frame in _drain(stream)}
    assert kinds <= {"audio", "video"} and kinds


def _drain(stream: Subscription) -> list[EncodedFrame]:
    frames = []
    while (frame := stream.get_nowait()) is not None:
        frames.append(frame)
    return frames
