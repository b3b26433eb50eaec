"""media/sync_receive.py against aiortc's own coroutines: the same packets, the same outcome."""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import struct
from typing import Any

import pytest
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
)
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, wrap_rtx

from media import frame_buffers, sync_receive

pytestmark = pytest.mark.unit

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=97, parameters={"apt": 96}
)
MEDIA_SSRC, RTX_SSRC = 1111, 2222
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def extensions_map() -> HeaderExtensionsMap:
    mapping = HeaderExtensionsMap()
    mapping.configure(
        RTCRtpParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME)]
        )
    )
    return mapping


class Captured:
    """A receiver as aiortc builds it, with its RTCP and its frames captured."""

    def __init__(self, transport: RTCDtlsTransport, wrap_buffer: bool) -> None:
        self.receiver = RTCRtpReceiver("video", transport)
        state = self.receiver.__dict__
        state[sync_receive.CODECS].update({96: VP8, 97: RTX})
        state[sync_receive.RTX_SSRC][RTX_SSRC] = MEDIA_SSRC
        state[sync_receive.RTCP_SSRC] = 4242
        state[sync_receive.DECODER_THREAD] = object()  # "running": frames go to the queue
        self.frames: queue.Queue[Any] = queue.Queue()
        state[sync_receive.DECODER_QUEUE] = self.frames
        self.forwarded: list[tuple[int, bytes]] = []
        if wrap_buffer:
            buffer = frame_buffers.install(self.receiver, "video")
            buffer.forward = lambda packet: self.forwarded.append(
                (packet.sequence_number, packet.payload)
            )
        self.rtcp: list[bytes] = []

        async def send_rtcp(packet: Any) -> None:
            self.rtcp.append(bytes(packet))

        self.receiver._send_rtcp = send_rtcp  # type: ignore[method-assign]

    def outcome(self) -> dict[str, Any]:
        state = self.receiver.__dict__
        frames = []
        while not self.frames.empty():
            codec, frame = self.frames.get_nowait()
            frames.append((codec.payloadType, frame.timestamp, bytes(frame.data)))
        # Not the jitter: aiortc takes it from the wall clock when the packet is handled.
        streams = {
            ssrc: (s.packets_received, s.max_seq, s.cycles, s.base_seq)
            for ssrc, s in state[sync_receive.REMOTE_STREAMS].items()
        }
        nack = state[sync_receive.NACK_GENERATOR]
        return {
            "frames": frames,
            "rtcp": list(self.rtcp),
            "forwarded": list(self.forwarded),
            "streams": streams,
            "missing": sorted(nack.missing),
            "active": sorted(state[sync_receive.ACTIVE_SSRC]),
            "bitrate": state[sync_receive.BITRATE_ESTIMATOR].current_bitrate,
        }


def stream(seed: int) -> list[tuple[bytes, int]]:
    """VP8 packets (abs-send-time on each) with loss, late RTX repairs, a padding probe, a bad
    payload and an unknown payload type; (raw packet, arrival ms)."""
    rng = random.Random(seed)
    mapping = extensions_map()
    sent: list[RtpPacket] = []
    seq = 65500
    for frame in range(120):
        parts = rng.randint(1, 5)
        for part in range(parts):
            descriptor = b"\x10" if part == 0 else b"\x00"
            packet = RtpPacket(
                payload_type=96,
                sequence_number=seq & 0xFFFF,
                timestamp=(3000 * frame) & 0xFFFFFFFF,
                ssrc=MEDIA_SSRC,
                marker=int(part == parts - 1),
                payload=descriptor + rng.randbytes(rng.randint(20, 1100)),
            )
            packet.extensions.abs_send_time = int(frame / 30 * (1 << 18)) & 0xFFFFFF
            sent.append(packet)
            seq += 1
    out: list[tuple[bytes, int]] = []
    clock_ms = 1000
    repairs: list[tuple[int, RtpPacket]] = []
    rtx_seq = 0
    for index, packet in enumerate(sent):
        clock_ms += rng.choice((0, 1, 2, 30 if index % 40 == 0 else 3))
        if rng.random() < 0.05:  # lost now, repaired by RTX a few packets later
            repairs.append((index + rng.randint(2, 8), packet))
            continue
        if index == 60:  # a padding-only probe on the RTX stream, as browsers send
            probe = RtpPacket(payload_type=97, sequence_number=rtx_seq, ssrc=RTX_SSRC)
            probe.padding_size = 200
            rtx_seq += 1
            out.append((probe.serialize(mapping), clock_ms))
        if index == 77:  # a VP8 descriptor aiortc cannot parse: its frame never completes
            packet.payload = b"\x90\x80"
        if index == 90:  # a payload type nobody negotiated
            stray = RtpPacket(payload_type=111, ssrc=MEDIA_SSRC)
            out.append((stray.serialize(mapping), clock_ms))
        out.append((packet.serialize(mapping), clock_ms))
        for due, lost in [r for r in repairs if r[0] <= index]:
            repairs.remove((due, lost))
            rtx = wrap_rtx(lost, payload_type=97, sequence_number=rtx_seq, ssrc=RTX_SSRC)
            rtx_seq += 1
            out.append((rtx.serialize(mapping), clock_ms))
    return out


@pytest.mark.parametrize("wrap_buffer", [False, True], ids=["aiortc buffer", "media buffer"])
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_same_packets_leave_each_receiver_in_the_same_state(
    seed: int, wrap_buffer: bool
) -> None:
    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
    )
    theirs = Captured(transport, wrap_buffer)
    ours = Captured(transport, wrap_buffer)
    sync_receive.check_receiver(ours.receiver)  # the private state it reads is all there
    mapping = extensions_map()
    for raw, arrival in stream(seed):
        await theirs.receiver._handle_rtp_packet(RtpPacket.parse(raw, mapping), arrival)
        sync_receive.handle_rtp_packet(ours.receiver, RtpPacket.parse(raw, mapping), arrival)
        await asyncio.sleep(0)  # let any feedback that went through run_now's task finish
    expected = theirs.outcome()
    assert expected["frames"] and expected["rtcp"] and expected["missing"] is not None
    assert ours.outcome() == expected


async def test_without_frame_consumers_nothing_is_depayloaded_and_everything_forwarded() -> None:
    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
    )
    ours = Captured(transport, wrap_buffer=True)
    buffer = ours.receiver.__dict__[sync_receive.JITTER_BUFFER]
    buffer.frames_wanted = False
    mapping = extensions_map()
    media_packets = 0
    for raw, arrival in stream(4):
        packet = RtpPacket.parse(raw, mapping)
        media_packets += packet.payload_type == 96 or (
            packet.payload_type == 97 and len(packet.payload) >= 2  # not the padding probe
        )
        sync_receive.handle_rtp_packet(ours.receiver, packet, arrival)
        assert not hasattr(packet, "_data")
    outcome = ours.outcome()
    assert outcome["frames"] == []
    # Every media packet (RTX unwrapped) went on to the forwarders, the bad payload too.
    assert len(outcome["forwarded"]) == media_packets
    assert (b"\x90\x80") in [payload for _, payload in outcome["forwarded"]]


def test_an_extension_of_the_wrong_length_is_dropped_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
    )
    extension = RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME)
    transport._rtp_header_extensions_map.configure(RTCRtpParameters(headerExtensions=[extension]))
    # abs-send-time is 3 bytes; this one says 2 (id 3, length field 1).
    raw = bytes([0x90, 96, 0, 1]) + bytes(8) + b"\xbe\xde\x00\x01" + b"\x31\xaa\xbb\x00" + b"\x10x"
    with pytest.raises(struct.error):
        RtpPacket.parse(raw, transport._rtp_header_extensions_map)  # what aiortc raises
    sync_receive.receive_rtp(transport, raw, 0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_receiver_without_the_state_read_here_is_refused_when_tapped() -> None:
    from media.compat import AiortcVersionError
    from media.receiver_tap import ReceiverTap

    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
    )
    receiver = RTCRtpReceiver("video", transport)
    del receiver.__dict__[sync_receive.REMOTE_STREAMS]  # as a patched aiortc build might
    with pytest.raises(AiortcVersionError, match="remote_streams"):
        ReceiverTap(receiver, "video", lambda frame: None)
