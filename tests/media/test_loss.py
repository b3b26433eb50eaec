"""Packets lost on the way to the server. Video: the server asks again (NACK) and, once the gap
is filled, every frame that waited behind it goes on at once, byte for byte. Audio (never asked
again): the lost packet is given up and what follows goes on without a lasting lag
(media/frame_buffers.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from media import core
from tests.media.harness import RecordingTrack, Session, digest, wait_for

pytestmark = pytest.mark.unit

DROP_VIDEO_EVERY = 40  # packets: about 3 video packets a second lost on their first sending
DROP_AUDIO_EVERY = 10  # packets: 5 audio packets a second lost for good
DROP_DOWNLINK_EVERY = 12  # video packets from the server to a subscriber


def _lose_packets(transport: Any, drops: dict[int, int]) -> dict[int, list[int]]:
    """Make the publisher's transport lose every Nth media packet per SSRC (`drops`: ssrc ->
    N), each only on its first sending (a retransmission goes through: RTX carries another
    SSRC). Returns the sequence numbers dropped per SSRC."""
    original = transport._send_rtp
    dropped: dict[int, list[int]] = {ssrc: [] for ssrc in drops}
    seen = dict.fromkeys(drops, 0)

    async def lossy(data: bytes) -> None:
        ssrc = int.from_bytes(data[8:12], "big")
        if ssrc in drops:
            sequence = int.from_bytes(data[2:4], "big")
            seen[ssrc] += 1
            if seen[ssrc] % drops[ssrc] == 0 and sequence not in dropped[ssrc]:
                dropped[ssrc].append(sequence)
                return
        await original(data)

    transport._send_rtp = lossy
    return dropped


def _lose_received(transport: Any, payload_type: int, every: int) -> list[int]:
    """Make a subscriber's transport lose every Nth packet of `payload_type` as it arrives,
    each only on its first sending (a retransmission is RTX, another payload type). Returns
    the sequence numbers lost."""
    original = transport._handle_rtp_data
    lost: list[int] = []
    seen = [0]

    async def lossy(data: bytes, arrival_time_ms: int) -> None:
        if data[1] & 0x7F == payload_type:
            seen[0] += 1
            sequence = int.from_bytes(data[2:4], "big")
            if seen[0] % every == 0 and sequence not in lost:
                lost.append(sequence)
                return
        await original(data, arrival_time_ms=arrival_time_ms)

    transport._handle_rtp_data = lossy
    return lost


async def test_lost_packets_are_recovered_or_given_up_and_nothing_lags_behind(
    session: Session, webm: Path
) -> None:
    player = session.player(webm)
    video, audio = RecordingTrack(player.video), RecordingTrack(player.audio)
    publisher = await session.join("applicant", [audio, video])
    senders = {s.track: s for s in publisher.pc.getSenders()}
    video_ssrc, audio_ssrc = senders[video]._ssrc, senders[audio]._ssrc
    dropped = _lose_packets(
        senders[video].transport, {video_ssrc: DROP_VIDEO_EVERY, audio_ssrc: DROP_AUDIO_EVERY}
    )
    viewer = await session.join("notary", [], decode=False, tap=True)

    def arrived(kind: str) -> int:
        return sum(len(r.frames) for r in viewer.received_of(kind))

    await wait_for(
        lambda: arrived("video") >= 30 and arrived("audio") >= 50,
        timeout=15,
        what="media through a lossy link",
    )
    assert dropped[video_ssrc] and dropped[audio_ssrc]

    (video_record,) = viewer.received_of("video")
    got = [digest(frame.data) for frame in video_record.frames]
    start = video.sent.index(got[0])
    # Every video frame, in order, whole: the losses were repaired, not skipped or corrupted.
    assert video.sent[start : start + len(got)] == got

    # Audio: the lost packets are gone for good, but the stream must not stall on them (as it
    # did, until the buffer overflowed) nor fall further behind: over a window, the viewer
    # falls behind the publisher by the packets lost in it and no more. (Audio payloads
    # repeat, a tone, so counts, not contents, are compared.)
    lag_before, lost_before = len(audio.sent) - arrived("audio"), len(dropped[audio_ssrc])
    await asyncio.sleep(1.5)  # the test file lasts 4 s
    lag_after, lost_after = len(audio.sent) - arrived("audio"), len(dropped[audio_ssrc])
    assert lost_after - lost_before >= 3, "the window must contain losses"
    assert lag_after - lag_before <= (lost_after - lost_before) + 2
    await wait_for(
        lambda: len(video.sent) - (start + arrived("video")) <= 2,
        timeout=5,
        what="video keeping pace with the publisher",
    )


async def test_packets_lost_on_the_way_to_the_subscriber_are_resent_from_the_history(
    session: Session, webm: Path
) -> None:
    player = session.player(webm)
    video = RecordingTrack(player.video)
    await session.join("applicant", [player.audio, video])
    viewer = await session.join("notary", [], decode=False, tap=True)
    assert viewer.peer is not None
    await wait_for(
        lambda: any(t.forwarder is not None for t in viewer.peer.subscriptions.values()),  # type: ignore[union-attr]
        timeout=10,
        what="the viewer's forwarders",
    )
    (forwarded,) = [t for t in viewer.peer.subscriptions.values() if t.kind == "video"]
    forwarder = forwarded.forwarder
    assert forwarder is not None
    # The C core forwards for the viewer where it is built (media/core.py), Python otherwise:
    # the loss is made where the viewer receives, so either path's history is what answers.
    assert forwarder.in_core == core.enabled()
    (transport,) = {t.receiver.transport for t in viewer.pc.getTransceivers()}
    lost = _lose_received(transport, forwarder.payload_type, DROP_DOWNLINK_EVERY)
    start_count = sum(len(r.frames) for r in viewer.received_of("video"))
    await wait_for(
        lambda: sum(len(r.frames) for r in viewer.received_of("video")) >= start_count + 45,
        timeout=15,
        what="video through a lossy downlink",
    )
    assert len(lost) >= 2
    assert forwarder.retransmitted >= len(lost) - 1  # the last may not be reported yet
    (video_record,) = viewer.received_of("video")
    got = [digest(frame.data) for frame in video_record.frames]
    start = video.sent.index(got[0])
    assert video.sent[start : start + len(got)] == got, "frames lost or corrupted downstream"
