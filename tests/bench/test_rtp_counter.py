"""The load generator's RTP-level counter sees the frames, bytes and keyframes that were sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.codecs.vpx import MAX_BITRATE

from tests.bench.paced_source import EncodedFile, PacedTrack
from tests.bench.rtp_counter import REMB_BPS, RtpCounter
from tests.bench.source import media_duration


class RecordingTrack(MediaStreamTrack):
    """Passes the paced packets on and remembers each one's size and keyframe flag."""

    def __init__(self, inner: PacedTrack) -> None:
        super().__init__()
        self.kind = inner.kind
        self.inner = inner
        self.sent: list[tuple[int, bool]] = []

    async def recv(self) -> av.Packet:
        packet = await self.inner.recv()
        data = bytes(packet)
        self.sent.append((len(data), self.kind == "video" and not data[0] & 0x01))
        return packet


async def test_counts_what_the_sender_sent(webm: Path, loopback_ice: None) -> None:
    participant = EncodedFile(webm, media_duration(webm)).participant()
    tracks = {kind: RecordingTrack(getattr(participant, kind)) for kind in ("audio", "video")}
    counted: dict[str, list[tuple[int, bool]]] = {"audio": [], "video": []}
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    counters: list[RtpCounter] = []

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        rtp_receiver = next(
            t.receiver for t in receiver.getTransceivers() if t.receiver.track is track
        )
        frames = counted[track.kind]
        counters.append(RtpCounter(rtp_receiver, track.kind, lambda n, k: frames.append((n, k))))

    try:
        for track in tracks.values():
            sender.addTrack(track)
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        async with asyncio.timeout(20):
            while len(counted["video"]) < 45:
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.6)  # at least one receiver report interval (0.5-1.5 s)
        reports = [s for s in (await sender.getStats()).values() if s.type == "remote-inbound-rtp"]
        video_sender = next(s for s in sender.getSenders() if s.track is tracks["video"])
        encoder = video_sender._RTCRtpSender__encoder  # packetizes, never encodes
    finally:
        await sender.close()
        await receiver.close()

    video_sent, video_counted = tracks["video"].sent, counted["video"]
    assert len(video_counted) >= 45
    # Frames arrive in order and whole: each counted frame is the sent one plus the VP8
    # payload descriptors of its packets (4 bytes each here; a packet carries ~1.2 kB).
    for (sent_size, sent_key), (seen_size, seen_key) in zip(
        video_sent, video_counted, strict=False
    ):
        assert 0 < seen_size - sent_size <= 6 * (sent_size // 1000 + 1)
        assert seen_key == sent_key
    assert video_counted[0][1], "the stream starts with a keyframe"
    # Audio: one frame per packet, sizes equal (Opus has no payload descriptor).
    audio_sizes = [size for size, _ in counted["audio"]]
    assert audio_sizes == [size for size, _ in tracks["audio"].sent[: len(audio_sizes)]]
    assert len(audio_sizes) >= 50
    # Receiver reports still flow back to the sender, as a browser's would.
    assert reports, "no RTCP receiver report reached the sender"
    # The REMB reached the sender: aiortc's VP8 side moved its target from the default
    # (500 kbit/s) to its ceiling, which a re-encoding server would then encode at.
    assert REMB_BPS > MAX_BITRATE
    assert encoder.target_bitrate == MAX_BITRATE
