"""The packet-level forwarder: what it rewrites, what it keeps, where it starts, what it resends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import RTCRtpSender
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, unwrap_rtx

from media.frames import is_vp8_keyframe
from media.rtp_forwarder import (
    ABS_SEND_TIME_URI,
    AUDIO_LEVEL_URI,
    HISTORY_SIZE,
    MID_URI,
    SENDER_OCTET_COUNT,
    SENDER_PACKET_COUNT,
    SENDER_RTP_TIMESTAMP,
    RtpForwarder,
    one_byte_extensions,
)
from tests.media.harness import CapturingOutput, ConnectedTransport

pytestmark = pytest.mark.unit

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=120)
RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=121, parameters={"apt": 120}
)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=109)


def _parameters(codecs: list[RTCRtpCodecParameters], kind: str) -> RTCRtpSendParameters:
    extensions = [RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI)]
    extensions.append(
        RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI)
        if kind == "video"
        else RTCRtpHeaderExtensionParameters(id=2, uri=AUDIO_LEVEL_URI)
    )
    return RTCRtpSendParameters(
        codecs=codecs, headerExtensions=extensions, muxId="7", rtcp=RTCRtcpParameters()
    )


def _forwarder(
    kind: str = "video", codecs: list[RTCRtpCodecParameters] | None = None
) -> tuple[RtpForwarder, CapturingOutput, RTCRtpSender, HeaderExtensionsMap]:
    parameters = _parameters(codecs or ([VP8, RTX] if kind == "video" else [OPUS]), kind)
    sender = RTCRtpSender(kind, ConnectedTransport())  # type: ignore[arg-type]
    output = CapturingOutput()
    forwarder = RtpForwarder(sender, parameters, kind, output=output)  # type: ignore[arg-type]
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters)
    return forwarder, output, sender, extensions


def _publisher_packets(webm: Path, frames: int = 40) -> list[RtpPacket]:
    """The publisher's VP8 stream as a browser would send it: PT 96, its own SSRC and numbers."""
    encoder = Vp8Encoder()
    packets = []
    sequence = 65500  # wraps inside the stream
    with av.open(str(webm)) as container:
        for index, frame in enumerate(p for p in container.demux(video=0) if p.size):
            if index == frames:
                break
            payloads, _ = encoder.pack(frame)
            for position, payload in enumerate(payloads):
                packets.append(
                    RtpPacket(
                        payload_type=96,
                        marker=int(position == len(payloads) - 1),
                        sequence_number=sequence & 0xFFFF,
                        timestamp=(4_294_960_000 + index * 3000) & 0xFFFFFFFF,
                        ssrc=0x1234,
                        payload=payload,
                    )
                )
                packets[-1]._keyframe = is_vp8_keyframe(bytes(frame)) and position == 0  # type: ignore[attr-defined]
                sequence += 1
    return packets


def _parse(data: bytes, extensions: HeaderExtensionsMap) -> RtpPacket:
    return RtpPacket.parse(data, extensions)


async def test_packets_are_rewritten_for_the_subscriber_and_payloads_kept(webm: Path) -> None:
    forwarder, output, sender, extensions = _forwarder()
    packets = _publisher_packets(webm)
    for packet in packets:
        forwarder.forward(packet, "video/VP8")
    assert packets[0]._keyframe  # type: ignore[attr-defined]
    assert len(output.sent) == len(packets) == forwarder.forwarded
    out = [_parse(data, extensions) for data in output.sent]
    for original, sent in zip(packets, out, strict=True):
        assert sent.payload == original.payload
        assert sent.marker == original.marker
        assert sent.ssrc == sender._ssrc and sent.payload_type == VP8.payloadType
        assert sent.extensions.mid == "7"
        assert sent.extensions.abs_send_time is not None
    # Numbering moves by constant offsets, across both wraps.
    for a, b, sa, sb in zip(packets, packets[1:], out, out[1:], strict=False):
        assert (sb.sequence_number - sa.sequence_number) & 0xFFFF == (
            b.sequence_number - a.sequence_number
        ) & 0xFFFF
        assert (sb.timestamp - sa.timestamp) & 0xFFFFFFFF == (
            b.timestamp - a.timestamp
        ) & 0xFFFFFFFF
    # What the sender's RTCP reports will say.
    state: dict[str, Any] = sender.__dict__
    assert state[SENDER_PACKET_COUNT] == len(packets)
    assert state[SENDER_OCTET_COUNT] == sum(len(p.payload) for p in packets)
    assert state[SENDER_RTP_TIMESTAMP] == out[-1].timestamp


async def test_video_starts_at_a_keyframe_and_a_restart_continues_the_numbering(webm: Path) -> None:
    forwarder, output, _, extensions = _forwarder()
    packets = _publisher_packets(webm)
    first_key = next(i for i, p in enumerate(packets) if p._keyframe)  # type: ignore[attr-defined]
    later = packets[first_key + 1 :]
    second_key = next(i for i, p in enumerate(later) if p._keyframe)  # type: ignore[attr-defined]
    # Joined just after a keyframe began: everything up to the next keyframe is skipped.
    for packet in later:
        forwarder.forward(packet, "video/VP8")
    assert forwarder.skipped == second_key
    out = [_parse(d, extensions) for d in output.sent]
    assert out[0].payload == later[second_key].payload
    last = out[-1]

    # The publisher's stream restarts (new SSRC, new numbering): on at its next keyframe.
    for packet in packets:
        packet.ssrc, packet.sequence_number = 0x9999, (packet.sequence_number + 5000) & 0xFFFF
    count = len(output.sent)
    for packet in packets:
        forwarder.forward(packet, "video/VP8")
    restarted = _parse(output.sent[count], extensions)
    assert restarted.payload == packets[first_key].payload
    assert restarted.sequence_number == (last.sequence_number + 1) & 0xFFFF
    assert (restarted.timestamp - last.timestamp) & 0xFFFFFFFF == 3000


async def test_another_codec_is_not_forwarded(webm: Path) -> None:
    forwarder, output, _, _ = _forwarder()
    for packet in _publisher_packets(webm, frames=3):
        forwarder.forward(packet, "video/H264")
    assert not output.sent and forwarder.skipped


async def test_a_lost_packet_is_resent_as_rtx_from_the_history(webm: Path) -> None:
    forwarder, output, sender, extensions = _forwarder()
    packets = _publisher_packets(webm)
    for packet in packets:
        forwarder.forward(packet, "video/VP8")
    out = [_parse(d, extensions) for d in output.sent]
    lost = out[-5]
    count = len(output.sent)
    await forwarder.retransmit(lost.sequence_number)
    await forwarder.retransmit(lost.sequence_number)
    assert len(output.sent) == count + 2 and forwarder.retransmitted == 2
    first, second = (_parse(d, extensions) for d in output.sent[count:])
    assert first.payload_type == RTX.payloadType and first.ssrc == sender._rtx_ssrc
    assert second.sequence_number == (first.sequence_number + 1) & 0xFFFF
    repaired = unwrap_rtx(first, payload_type=VP8.payloadType, ssrc=sender._ssrc)
    assert repaired.sequence_number == lost.sequence_number
    assert repaired.payload == lost.payload and repaired.timestamp == lost.timestamp
    # Too old (out of the history) or never sent: nothing.
    await forwarder.retransmit(out[0].sequence_number if len(out) > HISTORY_SIZE else 12345)
    await forwarder.retransmit((out[-1].sequence_number + 1) & 0xFFFF)
    assert len(output.sent) == count + 2


async def test_without_rtx_the_packet_itself_is_resent(webm: Path) -> None:
    forwarder, output, _, _ = _forwarder(codecs=[VP8])
    for packet in _publisher_packets(webm, frames=5):
        forwarder.forward(packet, "video/VP8")
    wanted = output.sent[2]
    await forwarder.retransmit(int.from_bytes(wanted[2:4], "big"))
    assert output.sent[-1] == wanted


async def test_audio_starts_at_once_and_carries_the_publishers_level() -> None:
    forwarder, output, _, extensions = _forwarder("audio")
    for index in range(3):
        packet = RtpPacket(payload_type=111, sequence_number=index, timestamp=index * 960, ssrc=7)
        packet.payload = bytes([index]) * 40
        packet.extensions.audio_level = (index == 1, 30 + index)
        forwarder.forward(packet, "audio/opus")
    out = [_parse(d, extensions) for d in output.sent]
    assert [p.payload for p in out] == [bytes([i]) * 40 for i in range(3)]
    assert [p.extensions.audio_level for p in out] == [(False, 30), (True, 31), (False, 32)]
    assert all(p.extensions.mid == "7" and p.payload_type == OPUS.payloadType for p in out)


def test_one_byte_extension_blocks_are_padded_to_words() -> None:
    assert one_byte_extensions(b"") == b""
    block = one_byte_extensions(bytes([0x10, 0x37]))
    assert block == bytes([0xBE, 0xDE, 0x00, 0x01, 0x10, 0x37, 0x00, 0x00])
