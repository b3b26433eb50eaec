"""The hook into aiortc's receiver: frames leave after the jitter buffer, undecoded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiortc
import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, rtcrtpreceiver
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtp import RtpPacket

from media import EncodedFrame, ReceiverTap
from media.compat import AIORTC_VERSION, AiortcVersionError, check_aiortc

pytestmark = pytest.mark.unit

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)


def test_the_pinned_aiortc_is_installed_and_another_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert aiortc.__version__ == AIORTC_VERSION
    check_aiortc()
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(AiortcVersionError, match=r"1\.17\.0"):
        check_aiortc()


async def _receiver(pc: RTCPeerConnection) -> RTCRtpReceiver:
    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    # What RTCPeerConnection does when a remote description announces the track.
    receiver._track = rtcrtpreceiver.RemoteStreamTrack(kind="video")
    return receiver


async def _start(receiver: RTCRtpReceiver) -> None:
    await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))


class Feeder:
    """Packetizes frames the way a VP8 sender does and hands them to the receiver."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.receiver = receiver
        self.seq = 1000
        self.picture_id = 0

    async def send(self, data: bytes, timestamp: int) -> None:
        payloads = Vp8Encoder._packetize(data, self.picture_id)
        self.picture_id += 1
        for i, payload in enumerate(payloads):
            packet = RtpPacket(
                payload_type=97, sequence_number=self.seq, timestamp=timestamp, ssrc=1234
            )
            packet.payload = payload
            packet.marker = int(i == len(payloads) - 1)
            self.seq += 1
            await self.receiver._handle_rtp_packet(packet, arrival_time_ms=0)


async def test_tap_gets_assembled_frames_and_nothing_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoders = [0]
    original = rtcrtpreceiver.get_decoder

    def counting(codec: RTCRtpCodecParameters) -> object:
        decoders[0] += 1
        return original(codec)

    monkeypatch.setattr(rtcrtpreceiver, "get_decoder", counting)
    pc = RTCPeerConnection()
    receiver = await _receiver(pc)
    frames: list[EncodedFrame] = []
    ended: list[bool] = []
    tap = ReceiverTap(
        receiver, "video", frames.append, on_end=lambda: ended.append(True), track_id="cam"
    )
    with pytest.raises(RuntimeError):
        ReceiverTap(receiver, "video", frames.append)
    await _start(receiver)

    key = b"\x10\x02\x00\x9d\x01\x2a" + bytes(range(256)) * 12  # spans 3 packets
    delta = b"\x11\x02\x00" + b"\x55" * 700
    feeder = Feeder(receiver)
    await feeder.send(key, 50_000)
    # Whole at its last packet (marker bit), not when the next frame starts as in aiortc's
    # player-oriented buffer (media/frame_buffers.py).
    assert [f.data for f in frames] == [key]
    await feeder.send(delta, 53_000)
    await feeder.send(delta, 56_000)

    assert [f.data for f in frames] == [key, delta, delta]
    assert [f.pts for f in frames] == [0, 3000, 6000]  # mapped from the first RTP timestamp
    assert [f.keyframe for f in frames] == [True, False, False]
    assert {f.track_id for f in frames} == {"cam"} and frames[0].codec.name == "VP8"
    assert tap.frames == 3 and tap.keyframes == 1

    await receiver.stop()
    await asyncio.sleep(0)
    assert ended == [True] and tap.ended
    assert decoders[0] == 0
    await pc.close()


async def test_decode_true_still_feeds_aiortcs_decoder(webm: Path) -> None:
    with av.open(str(webm)) as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size][:4]
    pc = RTCPeerConnection()
    receiver = await _receiver(pc)
    frames: list[EncodedFrame] = []
    ReceiverTap(receiver, "video", frames.append, decode=True)
    await _start(receiver)
    feeder = Feeder(receiver)
    for index, data in enumerate(packets):
        await feeder.send(data, index * 3000)

    picture = await asyncio.wait_for(receiver.track.recv(), timeout=5)
    assert isinstance(picture, av.VideoFrame)
    assert (picture.width, picture.height) == (320, 240)
    assert [f.data for f in frames] == packets
    await pc.close()
