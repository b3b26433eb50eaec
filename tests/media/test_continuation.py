"""media/continuation.py: a frame's middle packets handled in C leave the receiver, its buffer
and its publication as Python alone would, and everything else still goes to Python."""

from __future__ import annotations

import gc
import os
import queue
import weakref
from typing import Any

import pylibsrtp
import pytest
from aiortc import RTCCertificate, RTCDtlsTransport, RTCIceGatherer, RTCIceTransport, RTCRtpReceiver
from aiortc.rtcrtpparameters import RTCRtpParameters
from aiortc.rtp import RtpPacket

from media import continuation, core, sync_receive
from media.fanout import Publication
from media.frames import EncodedFrame
from media.receiver_tap import ReceiverTap
from tests.media.test_sync_receive import (
    ABS_SEND_TIME,
    MEDIA_SSRC,
    RTX,
    RTX_SSRC,
    VP8,
    extensions_map,
    stream,
)

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(
        not core.enabled() or continuation.FrameBuffer is None,
        reason="forwarding core or C frame buffer not built or not usable here",
    ),
]


class Side:
    """A video receiver as media/peer.py wires it: tap, publication, C buffer; `continued`
    adds the Router and the continuation."""

    def __init__(self, continued: bool) -> None:
        from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

        self.transport = RTCDtlsTransport(
            RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
        )
        self.transport._rtp_header_extensions_map.configure(
            RTCRtpParameters(
                headerExtensions=[RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME)]
            )
        )
        self.receiver = RTCRtpReceiver("video", self.transport)
        state = self.receiver.__dict__
        state[sync_receive.CODECS].update({96: VP8, 97: RTX})
        state[sync_receive.RTX_SSRC][RTX_SSRC] = MEDIA_SSRC
        state[sync_receive.RTCP_SSRC] = 4242
        state[sync_receive.DECODER_THREAD] = object()  # "running": frames go to the queue
        state[sync_receive.DECODER_QUEUE] = queue.Queue()
        # Its arrival times come from the clock in C, from the test in Python: off here,
        # a spy where a test looks at it.
        state[sync_receive.BITRATE_ESTIMATOR] = None
        self.frames: list[tuple[int, bytes, bool]] = []
        self.tap = ReceiverTap(self.receiver, "video", self._frame)
        self.publication = Publication("p", "video", "t")
        self.tap.on_packet = self.publication.forward
        self.rtcp: list[bytes] = []

        async def send_rtcp(packet: Any) -> None:
            self.rtcp.append(bytes(packet))

        self.receiver._send_rtcp = send_rtcp  # type: ignore[method-assign]
        self.session = inbound()
        self.router: Any = None
        if continued:
            self.router = core.new_router(self.session)
            assert continuation.install(self.receiver, self.router, self.tap, self.publication)

    def _frame(self, frame: EncodedFrame) -> None:
        self.frames.append((frame.pts, frame.data, frame.keyframe))

    def receive(self, srtp: bytes, arrival: int) -> None:
        if self.router is None:
            plain = self.session.unprotect(srtp)
        else:
            received = self.router.receive(srtp)
            if received is True:
                return
            assert received is not None
            plain = received[0]
        packet = RtpPacket.parse(plain, self.transport._rtp_header_extensions_map)
        sync_receive.handle_rtp_packet(self.receiver, packet, arrival)

    def outcome(self) -> dict[str, Any]:
        state = self.receiver.__dict__
        streams = {
            ssrc: (s.packets_received, s.max_seq, s.cycles, s.base_seq, s._last_timestamp)
            for ssrc, s in state[sync_receive.REMOTE_STREAMS].items()
        }
        nack = state[sync_receive.NACK_GENERATOR]
        buffer = state[sync_receive.JITTER_BUFFER]
        publication = self.publication
        return {
            "frames": list(self.frames),
            "rtcp": list(self.rtcp),
            "streams": streams,
            "missing": sorted(nack.missing),
            "nack_max_seq": nack.max_seq,
            "buffer": (buffer.origin, buffer.held),
            "publication": (
                publication.packets,
                publication.bytes,
                publication.frames,
                publication.keyframes,
            ),
        }


KEY = os.urandom(30)  # every side unprotects with its own session (replay windows)


def inbound() -> pylibsrtp.Session:
    return pylibsrtp.Session(pylibsrtp.Policy(key=KEY, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))


def camera_like(seed: int) -> list[tuple[bytes, int]]:
    """test_sync_receive's stream with a keyframe every 30 frames instead of every other one
    (its payloads are random: P bit set on the others), as a camera sends."""
    mapping = extensions_map()
    out = []
    frames = 0
    for raw, arrival in stream(seed):
        packet = RtpPacket.parse(raw, mapping)
        at = 2 if packet.payload_type == 97 else 0  # RTX: after the original sequence number
        payload = bytearray(packet.payload)
        if len(payload) > at + 1 and payload[at] == 0x10:  # partition 0 starts: a frame
            if packet.payload_type == 96:
                frames += 1
            if frames % 30 != 1:
                payload[at + 1] |= 0x01
            packet.payload = bytes(payload)
            raw = packet.serialize(mapping)
        out.append((raw, arrival))
    return out


def protected(seed: int) -> list[tuple[bytes, int]]:
    """The camera's stream (loss, RTX repairs, a probe, bad payloads), as SRTP; its stray
    packet repeats a sequence number, which SRTP refuses to protect twice: left out."""
    sending = pylibsrtp.Session(
        pylibsrtp.Policy(key=KEY, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    packets = []
    for raw, arrival in camera_like(seed):
        try:
            packets.append((sending.protect(raw), arrival))
        except pylibsrtp.Error:
            continue
    return packets


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_the_same_packets_leave_both_in_the_same_state(seed: int) -> None:
    python, continued = Side(continued=False), Side(continued=True)
    packets = protected(seed)
    for srtp, arrival in packets:
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
    expected = python.outcome()
    assert expected["frames"] and expected["rtcp"] and expected["missing"] is not None
    assert continued.outcome() == expected
    # The middle packets of the frames with more than two: a good share of all.
    assert continued.router.continued > 0.15 * len(packets)


async def test_nothing_is_handled_in_c_while_a_forwarder_is_not_in_the_core() -> None:
    python, continued = Side(continued=False), Side(continued=True)
    sinks = [Sink(), Sink()]
    python.publication.add_forwarder(sinks[0])
    continued.publication.add_forwarder(sinks[1])
    for srtp, arrival in protected(5):
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
    assert continued.router.continued == 0
    assert sinks[1].sequences == sinks[0].sequences and sinks[0].sequences
    assert continued.outcome() == python.outcome()


class Sink:
    """A forwarder in Python: every packet it is handed."""

    def __init__(self) -> None:
        self.sequences: list[int] = []

    def forward(self, packet: RtpPacket, mime_type: str) -> None:
        self.sequences.append(packet.sequence_number)


async def test_a_forwarder_added_while_armed_gets_every_packet_from_then_on() -> None:
    python, continued = Side(continued=False), Side(continued=True)
    packets = protected(6)
    index = 0
    while continued.router.armed(MEDIA_SSRC) is None:  # up to a frame's middle
        python.receive(*packets[index])
        continued.receive(*packets[index])
        index += 1
    armed = continued.router.armed(MEDIA_SSRC)
    sinks = [Sink(), Sink()]
    python.publication.add_forwarder(sinks[0])
    continued.publication.add_forwarder(sinks[1])
    assert continued.router.armed(MEDIA_SSRC) is None  # disarmed by the change
    for srtp, arrival in packets[index:]:
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
    assert sinks[1].sequences == sinks[0].sequences and armed in sinks[1].sequences
    assert continued.outcome() == python.outcome()


class SpyEstimator:
    """Records what the estimator is given (not when) and answers a REMB every 25th packet."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []

    def add(self, arrival_ms: int, abs_send_time: int, size: int, ssrc: int) -> Any:
        self.calls.append((abs_send_time, size, ssrc))
        return (100_000 + len(self.calls), [ssrc]) if len(self.calls) % 25 == 0 else None


async def test_the_estimator_sees_every_packet_and_its_remb_goes_out() -> None:
    python, continued = Side(continued=False), Side(continued=True)
    spies = [SpyEstimator(), SpyEstimator()]
    for side, spy in zip((python, continued), spies, strict=True):
        side.receiver.__dict__[sync_receive.BITRATE_ESTIMATOR] = spy
    for srtp, arrival in protected(7):
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
    assert continued.router.continued > 0
    assert spies[1].calls == spies[0].calls and len(spies[0].calls) > 25
    expected = python.outcome()
    assert continued.outcome() == expected  # the REMBs among the RTCP too


async def test_a_stopped_tap_hands_everything_back() -> None:
    side = Side(continued=True)
    packets = protected(8)
    for srtp, arrival in packets[:30]:
        side.receive(srtp, arrival)
    state = side.receiver.__dict__
    state[sync_receive.CONTINUATION].close()
    assert sync_receive.CONTINUATION not in state and side.router.armed(MEDIA_SSRC) is None
    before = side.router.continued
    for srtp, arrival in packets[30:]:
        side.receive(srtp, arrival)
    assert side.router.continued == before


async def test_a_receiver_never_closed_is_still_collected() -> None:
    # The Router's entries hold the receiver's objects, whose callbacks hold the receiver,
    # whose transport holds the Router: a cycle the collector must see through.
    side = Side(continued=True)
    for srtp, arrival in protected(9)[:60]:
        side.receive(srtp, arrival)
    assert side.router.continued > 0
    gone = weakref.ref(side.receiver)
    side.transport.__dict__["router"] = side.router  # as core.router_of keeps it
    del side
    gc.collect()
    assert gone() is None


async def test_a_router_with_no_place_left_leaves_the_source_to_python() -> None:
    python, continued = Side(continued=False), Side(continued=True)
    for other in range(8):  # other receivers' sources hold every place
        continued.router.continue_with(
            900 + other, 96, 90000, 0, bytes(16), 0, b"-", *[None] * 4, object(), print, print
        )
    for srtp, arrival in protected(10):
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
    assert continued.router.continued == 0
    assert continued.outcome() == python.outcome()
