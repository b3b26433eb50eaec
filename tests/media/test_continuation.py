"""media/continuation.py: a frame's middle packets handled in C leave the receiver, its buffer
and its publication as Python alone would, and everything else still goes to Python."""

from __future__ import annotations

import gc
import os
import queue
import random
import time
import weakref
from typing import Any

import pylibsrtp
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
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media import continuation, core, sync_receive
from media.fanout import Publication
from media.frames import EncodedFrame
from media.receiver_tap import ReceiverTap
from media.rtp_keyframes import vp8_starts_keyframe
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
    """A receiver as media/peer.py wires it: tap, publication, C buffer; `continued` adds the
    Router and the continuation."""

    def __init__(self, continued: bool, kind: str = "video") -> None:
        self.transport = RTCDtlsTransport(
            RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
        )
        self.transport._rtp_header_extensions_map.configure(
            RTCRtpParameters(
                headerExtensions=[
                    RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME),
                    RTCRtpHeaderExtensionParameters(id=1, uri=AUDIO_LEVEL),
                ]
            )
        )
        self.receiver = RTCRtpReceiver(kind, self.transport)
        state = self.receiver.__dict__
        if kind == "video":
            state[sync_receive.CODECS].update({96: VP8, 97: RTX})
        else:
            state[sync_receive.CODECS][OPUS.payloadType] = OPUS
        state[sync_receive.RTX_SSRC][RTX_SSRC] = MEDIA_SSRC
        state[sync_receive.RTCP_SSRC] = 4242
        state[sync_receive.DECODER_THREAD] = object()  # "running": frames go to the queue
        state[sync_receive.DECODER_QUEUE] = queue.Queue()
        # Its arrival times come from the clock in C, from the test in Python: off here,
        # a spy where a test looks at it.
        state[sync_receive.BITRATE_ESTIMATOR] = None
        self.frames: list[tuple[int, bytes, bool]] = []
        self.tap = ReceiverTap(self.receiver, kind, self._frame)
        self.publication = Publication("p", kind, "t")
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
        nack = state[sync_receive.NACK_GENERATOR]  # None for audio
        buffer = state[sync_receive.JITTER_BUFFER]
        publication = self.publication
        return {
            "frames": list(self.frames),
            "rtcp": list(self.rtcp),
            "streams": streams,
            "missing": sorted(nack.missing) if nack is not None else None,
            "nack_max_seq": nack.max_seq if nack is not None else None,
            "buffer": (buffer.origin, buffer.held),
            "publication": (
                publication.packets,
                publication.bytes,
                publication.frames,
                publication.keyframes,
            ),
        }


OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

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
    # Every packet but those of a loss's or a keyframe's aftermath: most of them.
    assert continued.router.continued > 0.45 * len(packets)


async def test_the_jitter_steps_in_c_as_aiortc_computes_them() -> None:
    side = Side(continued=True)
    statistics = None
    steps = 0
    for srtp, arrival in protected(11):
        if statistics is None:
            statistics = side.receiver.__dict__[sync_receive.REMOTE_STREAMS].get(MEDIA_SSRC)
        before = side.router.continued
        if statistics is not None:
            jitter, last_arrival, last_timestamp = (
                statistics._jitter_q4,
                statistics._last_arrival,
                statistics._last_timestamp,
            )
        side.receive(srtp, arrival)
        if side.router.continued == before or statistics is None:
            continue  # Python's, aiortc's own StreamStatistics.add
        if statistics._last_timestamp != last_timestamp:
            transit = (statistics._last_arrival - last_arrival) - (
                statistics._last_timestamp - last_timestamp
            )
            assert statistics._jitter_q4 == jitter + abs(transit) - ((jitter + 8) >> 4)
            steps += 1
        else:
            assert statistics._jitter_q4 == jitter
    assert steps > 30


async def test_a_keyframe_start_is_always_handed_to_python() -> None:
    # The publication counts keyframes and keeps the packets after one for new subscribers:
    # C never takes a keyframe's first packet, however long the source was armed before it.
    python, continued = Side(continued=False), Side(continued=True)
    for srtp, arrival in protected(12):
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
        assert replay(continued) == replay(python)
    assert continued.router.continued > 0
    assert continued.publication.keyframes == python.publication.keyframes >= 3


def replay(side: Side) -> list[int] | None:
    kept = side.publication._since_keyframe
    return None if kept is None else [packet.sequence_number for packet in kept]


async def test_python_checks_the_source_again_once_a_second() -> None:
    side = Side(continued=True)
    peek = inbound()  # to know which packet comes next
    packets = [(srtp, arrival, peek.unprotect(srtp)) for srtp, arrival in protected(13)]
    active = side.receiver.__dict__[sync_receive.ACTIVE_SSRC]
    in_c = 0
    index = 149
    for srtp, arrival, _ in packets[: index + 1]:
        refreshed, before = active.get(MEDIA_SSRC), side.router.continued
        side.receive(srtp, arrival)
        if side.router.continued > before:  # within the second: aiortc's time left alone
            assert active[MEDIA_SSRC] == refreshed
            in_c += 1
    assert in_c > 30
    # On to a packet the Router would take now (armed for it, not a keyframe's start)...
    while True:
        index += 1
        plain = RtpPacket.parse(packets[index][2], side.transport._rtp_header_extensions_map)
        if side.router.armed(MEDIA_SSRC) == plain.sequence_number and not (
            publication_keyframe_start(plain)
        ):
            break
        side.receive(*packets[index][:2])
    # ...which a second later is Python's: it refreshes aiortc's time and arms again.
    refreshed, handled = active[MEDIA_SSRC], side.router.continued
    time.sleep(1.05)
    side.receive(*packets[index][:2])
    assert side.router.continued == handled
    assert active[MEDIA_SSRC] > refreshed
    assert side.router.armed(MEDIA_SSRC) == (plain.sequence_number + 1) & 0xFFFF


def publication_keyframe_start(packet: RtpPacket) -> bool:
    return packet.payload_type == 96 and vp8_starts_keyframe(packet.payload)


def talking(seed: int) -> list[tuple[bytes, int]]:
    """Opus as a browser sends it, as SRTP: a packet every 20 ms with its audio level and
    abs-send-time, a talk spurt's marker after a silence (DTX: the timestamp jumps), losses,
    swapped neighbours, the sequence number's wrap."""
    rng = random.Random(seed)
    mapping = HeaderExtensionsMap()
    mapping.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME),
                RTCRtpHeaderExtensionParameters(id=1, uri=AUDIO_LEVEL),
            ]
        )
    )
    sent: list[RtpPacket] = []
    timestamp = 0
    for index in range(400):
        silence = index % 150 == 149
        if silence:
            timestamp += 960 * rng.randint(5, 40)
        packet = RtpPacket(
            payload_type=OPUS.payloadType,
            sequence_number=(65300 + index) & 0xFFFF,
            timestamp=timestamp & 0xFFFFFFFF,
            ssrc=MEDIA_SSRC,
            marker=int(silence),
            payload=rng.randbytes(rng.randint(3, 160)),
        )
        packet.extensions.audio_level = (False, rng.randint(0, 127))
        packet.extensions.abs_send_time = (index * (1 << 18) // 50) & 0xFFFFFF
        timestamp += 960
        if rng.random() < 0.03:
            continue  # lost
        sent.append(packet)
    for index in range(10, len(sent) - 1, 37):  # late by one packet
        sent[index], sent[index + 1] = sent[index + 1], sent[index]
    sending = pylibsrtp.Session(
        pylibsrtp.Policy(key=KEY, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    return [(sending.protect(p.serialize(mapping)), 1000 + 20 * i) for i, p in enumerate(sent)]


@pytest.mark.parametrize("seed", [1, 2])
async def test_an_audio_source_leaves_both_in_the_same_state(seed: int) -> None:
    python, continued = Side(False, kind="audio"), Side(True, kind="audio")
    packets = talking(seed)
    for srtp, arrival in packets:
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
    expected = python.outcome()
    assert len(expected["frames"]) > 300
    assert continued.outcome() == expected
    assert continued.router.continued > 0.7 * len(packets)


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
            900 + other, 96, 90000, True, 0, bytes(16), 0, b"-", *[None] * 4, object(), print, print
        )
    for srtp, arrival in protected(10):
        python.receive(srtp, arrival)
        continued.receive(srtp, arrival)
    assert continued.router.continued == 0
    assert continued.outcome() == python.outcome()
