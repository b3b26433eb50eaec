"""The C forwarding core (media/_core.c, media/core.py): the same bytes as the Python forwarder,
SRTP as pylibsrtp, what it leaves to Python, history, routes and the switch."""

from __future__ import annotations

import asyncio
import importlib
import os
import random
import shutil
import socket
import struct
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pylibsrtp
import pytest
from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media import core
from media.rtp_forwarder import (
    ABS_SEND_TIME_URI,
    AUDIO_LEVEL_URI,
    HISTORY_SIZE,
    MID_URI,
    SENDER_PACKET_COUNT,
    SYNC_INTERVAL,
    RtpForwarder,
)
from media.rtp_output import TX_PACKETS
from tests.media.harness import CapturingOutput, ConnectedTransport, Session, wait_for

pytestmark = pytest.mark.unit
needs_core = pytest.mark.skipif(
    not core.enabled(), reason="forwarding core switched off, not built or not usable here"
)

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=120)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=109)
PUBLISHER_PT = {"video": 96, "audio": 111}
SOURCE = 0x1234
# A VP8 payload descriptor starting partition 0 (S=1) of a keyframe (P bit 0).
VP8_KEYFRAME = b"\x10\x00"
# The publisher's extension ids (as a browser numbers them) and the subscriber's.
PUBLISHER_EXTENSIONS = [
    RTCRtpHeaderExtensionParameters(id=4, uri=MID_URI),
    RTCRtpHeaderExtensionParameters(id=2, uri=ABS_SEND_TIME_URI),
    RTCRtpHeaderExtensionParameters(id=1, uri=AUDIO_LEVEL_URI),
]


def _srtp_pair() -> tuple[pylibsrtp.Session, pylibsrtp.Session]:
    key = os.urandom(30)
    return (
        pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)),
        pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)),
    )


@dataclass
class Rig:
    """A publisher's SRTP into a Router, one subscriber's Output to a socket, and the Python
    forwarder for the same subscriber beside it."""

    kind: str
    publisher: pylibsrtp.Session
    router: Any
    output: Any
    subscriber: pylibsrtp.Session
    sink: socket.socket
    forwarder: RtpForwarder
    capture: CapturingOutput
    publisher_map: HeaderExtensionsMap
    subscriber_map: HeaderExtensionsMap

    def protect(self, packet: RtpPacket) -> bytes:
        return self.publisher.protect(packet.serialize(self.publisher_map))

    def received(self) -> bytes | None:
        """What the subscriber got from the Output (unprotected), None if nothing."""
        try:
            return self.subscriber.unprotect(self.sink.recv(4096))
        except BlockingIOError:
            return None

    def start(self, packet: RtpPacket) -> None:
        """The Python forwarder takes the first packet (it decides where to start) and the
        Output follows with its offsets, as RtpForwarder._follow does."""
        self.forwarder.forward(packet, self.forwarder.mime_type)
        assert self.forwarder.started
        level_id = 1 if self.kind == "audio" else 0
        self.output.follow(
            source=packet.ssrc,
            payload_type=packet.payload_type,
            sequence_offset=self.forwarder._sequence_offset,
            timestamp_offset=self.forwarder._timestamp_offset,
            audio_level_id=level_id,
        )
        self.router.route(packet.ssrc, self.output)


@pytest.fixture
def rigs() -> Iterator[Any]:
    made: list[Rig] = []

    def make(kind: str = "video") -> Rig:
        publisher, receiving = _srtp_pair()
        sending, subscriber = _srtp_pair()
        codec = VP8 if kind == "video" else OPUS
        extensions = [RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI)]
        extensions.append(
            RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI)
            if kind == "video"
            else RTCRtpHeaderExtensionParameters(id=2, uri=AUDIO_LEVEL_URI)
        )
        parameters = RTCRtpSendParameters(
            codecs=[codec], headerExtensions=extensions, muxId="7", rtcp=RTCRtcpParameters()
        )
        capture = CapturingOutput()
        sender = RTCRtpSender(kind, ConnectedTransport())  # type: ignore[arg-type]
        forwarder = RtpForwarder(sender, parameters, kind, output=capture)  # type: ignore[arg-type]
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        source = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        output = core.new_output(
            sending,
            os.dup(source.fileno()),
            sink.getsockname(),
            ssrc=forwarder.ssrc,
            payload_type=forwarder.payload_type,
            mid_element=forwarder._mid_element,
            abs_send_time_id=forwarder._abs_send_time_id,
            audio_level_id=forwarder._audio_level_id,
        )
        source.close()  # the Output sends on its own dup
        publisher_map, subscriber_map = HeaderExtensionsMap(), HeaderExtensionsMap()
        publisher_map.configure(
            RTCRtpSendParameters(codecs=[codec], headerExtensions=PUBLISHER_EXTENSIONS)
        )
        subscriber_map.configure(parameters)
        rig = Rig(
            kind,
            publisher,
            core.new_router(receiving),
            output,
            subscriber,
            sink,
            forwarder,
            capture,
            publisher_map,
            subscriber_map,
        )
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.output.close()
        rig.sink.close()


def _packet(kind: str, index: int, payload: bytes, **fields: Any) -> RtpPacket:
    packet = RtpPacket(
        payload_type=PUBLISHER_PT[kind],
        marker=index % 3 == 2,
        sequence_number=(65530 + index) & 0xFFFF,  # wraps
        timestamp=(4_294_967_000 + index * 960) & 0xFFFFFFFF,  # wraps
        ssrc=SOURCE,
        payload=payload,
    )
    packet.extensions.mid = "v1"
    if kind == "video":
        packet.extensions.abs_send_time = index * 7 & 0xFFFFFF
    else:
        packet.extensions.audio_level = (index % 2 == 0, index % 128)
    for name, value in fields.items():
        setattr(packet, name, value)
    return packet


def _without_abs_send_time(data: bytes, extensions: HeaderExtensionsMap) -> tuple[Any, ...]:
    """A sent packet's fields, abs-send-time apart (a clock reading, checked separately)."""
    packet = RtpPacket.parse(data, extensions)
    return (
        packet.marker,
        packet.payload_type,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
        packet.csrc,
        packet.padding_size,
        packet.extensions.mid,
        packet.extensions.audio_level,
        packet.payload,
        len(data),
    )


def _abs_send_time_now() -> int:
    return (core._core.ntp_now() >> 14) & 0xFFFFFF


@needs_core
@pytest.mark.parametrize("kind", ["video", "audio"])
async def test_the_core_sends_what_the_python_forwarder_sends(rigs: Any, kind: str) -> None:
    rig = rigs(kind)
    first = b"\x10\x00first" if kind == "video" else b"first"
    rig.start(_packet(kind, 0, first))
    for index in range(1, 40):
        payload = (VP8_KEYFRAME if index % 10 == 0 else b"\x00") + os.urandom(20 + index * 30)
        packet = _packet(kind, index, payload)
        before = _abs_send_time_now()
        plain, serial = rig.router.receive(rig.protect(packet))
        after = _abs_send_time_now()
        assert plain == packet.serialize(rig.publisher_map) and serial
        sent = rig.received()
        assert sent is not None
        # Python, given the same packet, would send the same bytes.
        count = len(rig.capture.sent)
        rig.forwarder.forward(RtpPacket.parse(plain, rig.publisher_map), rig.forwarder.mime_type)
        assert len(rig.capture.sent) == count + 1
        expected = rig.capture.sent[-1]
        assert _without_abs_send_time(sent, rig.subscriber_map) == _without_abs_send_time(
            expected, rig.subscriber_map
        )
        stamp = RtpPacket.parse(sent, rig.subscriber_map).extensions.abs_send_time
        if kind == "video":
            assert stamp is not None and (stamp - before) & 0xFFFFFF <= (after - before) & 0xFFFFFF
        else:
            assert stamp is None
    assert rig.output.forwarded == 39 and rig.router.forwarded == 39
    assert rig.output.octets == sum(
        len(RtpPacket.parse(d, rig.subscriber_map).payload) for d in rig.capture.sent[1:]
    )
    assert rig.output.last_sequence == RtpPacket.parse(sent, rig.subscriber_map).sequence_number


@needs_core
async def test_padding_and_csrcs_are_dropped_as_python_drops_them(rigs: Any) -> None:
    rig = rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    packet = _packet("audio", 1, b"padded", csrc=[11, 12], padding_size=7)
    plain, serial = rig.router.receive(rig.protect(packet))
    assert serial
    sent = rig.received()
    assert sent is not None
    rig.forwarder.forward(RtpPacket.parse(plain, rig.publisher_map), "audio/opus")
    assert sent == rig.capture.sent[-1]
    assert RtpPacket.parse(sent, rig.subscriber_map).csrc == []


@needs_core
async def test_srtp_is_pylibsrtp_s_and_what_it_rejects_is_dropped(rigs: Any) -> None:
    rig = rigs("audio")
    protected = rig.protect(_packet("audio", 0, b"x" * 50))
    tampered = protected[:-1] + bytes([protected[-1] ^ 1])
    assert rig.router.receive(tampered) is None  # authentication
    plain, serial = rig.router.receive(protected)
    assert plain == _packet("audio", 0, b"x" * 50).serialize(rig.publisher_map)
    assert serial == 0  # nothing routed
    assert rig.router.receive(protected) is None  # replayed
    assert rig.router.receive(b"\x80" * 1501) is None  # longer than pylibsrtp takes
    assert (rig.router.received, rig.router.rejected) == (4, 3)
    with pytest.raises(TypeError):
        rig.router.receive(bytearray(protected))


@needs_core
async def test_other_sources_and_payload_types_are_left_to_python(rigs: Any) -> None:
    rig = rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    for packet in (
        _packet("audio", 1, b"other source", ssrc=SOURCE + 1),
        _packet("audio", 2, b"other codec", payload_type=112),
    ):
        assert rig.router.receive(rig.protect(packet))[1] == 0
    assert rig.received() is None and rig.output.forwarded == 0


@needs_core
async def test_extensions_it_does_not_read_are_left_to_python(rigs: Any) -> None:
    rig = rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    unread = [
        # two-byte elements (RFC 8285 0x100): an audio level, id 1, length 1
        struct.pack("!HH", 0x1000, 1) + bytes([1, 1, 0x85, 0]),
        # a one-byte audio level of the wrong length
        struct.pack("!HH", 0xBEDE, 1) + bytes([0x11, 0x85, 0x00, 0]),
        # an element running past the block
        struct.pack("!HH", 0xBEDE, 1) + bytes([0x2F, 1, 2, 3]),
    ]
    for sequence, extension in enumerate(unread, start=1):
        header = struct.pack("!BBHII", 0x90, 111, sequence, 960, SOURCE)
        plain = header + extension + b"payload"
        assert rig.router.receive(rig.publisher.protect(plain)) == (plain, 0)
    # A level after padding bytes and another element is found.
    plain = (
        struct.pack("!BBHII", 0x90, 111, 9, 960, SOURCE)
        + struct.pack("!HH", 0xBEDE, 2)
        + bytes([0, 0, 0x40, 0x76, 0x30, 0, 0x10, 0x9A])
    )
    plain += b"payload"
    assert rig.router.receive(rig.publisher.protect(plain))[1]
    sent = rig.received()
    assert sent is not None
    assert RtpPacket.parse(sent, rig.subscriber_map).extensions.audio_level == (True, 0x1A)


@needs_core
async def test_the_history_answers_nacks_and_raw_packets_go_out_as_they_are(rigs: Any) -> None:
    rig = rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    for index in range(1, 200):
        rig.router.receive(rig.protect(_packet("audio", index, bytes([index]) * 30)))
    sent = [rig.received() for _ in range(199)]
    assert all(sent) and rig.received() is None
    last = RtpPacket.parse(sent[-1], rig.subscriber_map).sequence_number  # type: ignore[arg-type]
    assert rig.output.history(last) == sent[-1]
    # The same window as the Python forwarder's (NACKs answered as aiortc's sender would).
    assert core._core.HISTORY_SIZE == HISTORY_SIZE
    assert rig.output.history((last - HISTORY_SIZE + 1) & 0xFFFF) == sent[-HISTORY_SIZE]
    assert rig.output.history((last - HISTORY_SIZE) & 0xFFFF) is None  # out of the history
    assert rig.output.history((last + 1) & 0xFFFF) is None  # never sent
    with pytest.raises(ValueError):
        rig.output.history(70000)
    # A retransmission goes out as given (RtpForwarder makes it RTX: another SSRC)...
    before = rig.output.transport_packets
    rtx = sent[-5][:8] + b"\x00\x00\x00\x09" + sent[-5][12:]  # type: ignore[index]
    assert rig.output.send(rtx)
    assert rig.received() == rtx
    assert rig.output.transport_packets == before + 1
    # ...a packet sent again as it was is refused by SRTP (a replayed index), and counted.
    assert not rig.output.send(sent[-5])
    assert rig.output.protect_errors == 1 and rig.received() is None
    assert rig.output.forwarded == 199  # a retransmission is not a forwarded packet
    with pytest.raises(ValueError):
        rig.output.send(bytes(1501))


@needs_core
async def test_a_closed_output_sends_nothing_and_says_so(rigs: Any) -> None:
    rig = rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    rig.output.close()
    assert rig.output.closed
    _, serial = rig.router.receive(rig.protect(_packet("audio", 1, b"late")))
    assert serial and rig.output.last_serial == serial  # Python must not send it either
    assert rig.received() is None
    assert rig.output.forwarded == 0 and rig.output.send_errors == 1
    assert not rig.output.forward(True, 2, 1920, b"late", -1)


@needs_core
async def test_the_process_totals_keep_what_every_router_and_output_counted(rigs: Any) -> None:
    before = core.totals()
    rig = rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    protected = rig.protect(_packet("audio", 1, b"routed"))
    _, serial = rig.router.receive(protected)
    assert serial and rig.received() is not None
    assert rig.router.receive(protected) is None  # a replay: rejected
    rig.output.close()
    rig.router.receive(rig.protect(_packet("audio", 2, b"nowhere")))  # not sent: closed
    gone = (rig.router.received, rig.router.rejected, rig.router.forwarded)
    del rig.router  # an ended session's counts stay in the totals
    after = core.totals()
    delta = {what: after[what] - before[what] for what in core.TOTALS}
    assert (delta["received"], delta["rejected"], delta["routed"]) == gone == (3, 1, 2)
    assert (delta["sent"], delta["send_failures"], delta["continued"]) == (1, 1, 0)


@needs_core
async def test_a_packet_s_serial_names_the_outputs_that_sent_it(rigs: Any) -> None:
    rig, other = rigs("audio"), rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    rig.router.route(SOURCE + 1, other.output)
    _, serial = rig.router.receive(rig.protect(_packet("audio", 1, b"one")))
    _, next_serial = rig.router.receive(rig.protect(_packet("audio", 2, b"two")))
    assert 0 < serial < next_serial == rig.output.last_serial
    assert other.output.last_serial == 0


@needs_core
async def test_routes_hold_their_outputs_and_are_bounded(rigs: Any) -> None:
    rig = rigs("audio")
    output = rig.output
    references = sys.getrefcount(output)
    rig.router.route(1, output)
    rig.router.route(2, output)  # moves the route: one per output
    routed = sys.getrefcount(output)
    assert rig.router.route_count == 1 and routed == references + 1
    assert rig.router.unroute(output) and not rig.router.unroute(output)
    unrouted = sys.getrefcount(output)
    assert unrouted == references
    for index in range(64):
        rig.router.route(index, _Spare(rig).output)
    with pytest.raises(OverflowError):
        rig.router.route(99, rig.output)
    with pytest.raises(TypeError):
        rig.router.route(1, object())


class _Spare:
    """One more Output on the rig's socket pair (only routed, never sent on)."""

    def __init__(self, rig: Rig) -> None:
        sending, _ = _srtp_pair()
        self.output = core.new_output(
            sending, os.dup(rig.sink.fileno()), rig.sink.getsockname(), ssrc=1, payload_type=1
        )


@needs_core
def test_bad_output_parameters_are_refused_and_the_socket_closed() -> None:
    sending, _ = _srtp_pair()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for address, extra in (
            (("not an address", 9), {}),
            (("127.0.0.1", 70000), {}),
            (("127.0.0.1", 9), {"abs_send_time_id": 15}),
            (("127.0.0.1", 9), {"mid_element": bytes(18)}),
        ):
            fd = os.dup(sock.fileno())
            with pytest.raises(ValueError):
                core.new_output(sending, fd, address, ssrc=1, payload_type=96, **extra)
            with pytest.raises(OSError):
                os.fstat(fd)  # closed by new_output


@needs_core
def test_ipv6_addresses_are_sent_to() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    sending, subscriber = _srtp_pair()
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sink:
        try:
            sink.bind(("::1", 0))
        except OSError as exc:
            pytest.skip(f"no IPv6 loopback here: {exc}")
        sink.settimeout(1)
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as source:
            output = core.new_output(
                sending, os.dup(source.fileno()), sink.getsockname()[:2], ssrc=5, payload_type=96
            )
            output.follow(
                source=1, payload_type=96, sequence_offset=0, timestamp_offset=0, audio_level_id=0
            )
            assert output.forward(False, 1, 2, b"six", -1)
            sent = subscriber.unprotect(sink.recv(2048))
            output.close()
    assert sent == struct.pack("!BBHII", 0x80, 96, 1, 2, 5) + b"six"


@needs_core
async def test_random_packets_never_differ_from_python_where_both_forward(rigs: Any) -> None:
    rig = rigs("audio")
    rig.start(_packet("audio", 0, b"first"))
    chance = random.Random(8)
    both = 0
    for index in range(1, 1500):
        first = 0x80 | chance.choice([0, 0x10, 0x20, 0x30]) | chance.choice([0, 0, 1, 3])
        words = chance.randrange(0, 3)
        body = bytes(chance.randrange(256) for _ in range(4 * 3 + 4 + 4 * words + 20))
        header = struct.pack("!BBHII", first, 111, index, index * 960, SOURCE)
        profile = chance.choice([0xBEDE, 0xBEDE, 0x1000])
        body = body[:12] + struct.pack("!HH", profile, words) + body[16:]
        plain = header + body
        if first & 0x20:
            plain = plain[:-1] + bytes([chance.randrange(0, 12)])
        try:
            parsed: RtpPacket | None = RtpPacket.parse(plain, rig.publisher_map)
        except (ValueError, struct.error):
            parsed = None  # aiortc drops it
        try:
            protected = rig.publisher.protect(plain)
        except pylibsrtp.Error:
            continue  # a header libsrtp will not protect never arrives
        received = rig.router.receive(protected)
        assert received is not None and received[0] == plain
        sent = rig.received()
        assert (sent is not None) == bool(received[1])
        if sent is None or parsed is None:
            continue
        count = len(rig.capture.sent)
        rig.forwarder.forward(parsed, "audio/opus")
        if len(rig.capture.sent) > count:
            assert sent == rig.capture.sent[-1]
            both += 1
    assert both > 300


@needs_core
def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(core.ENVIRONMENT, "0")
    assert not core._decide()
    monkeypatch.setenv(core.ENVIRONMENT, "1")
    assert core._decide()
    monkeypatch.setattr(core, "_enabled", None)
    core.switch_off()
    assert not core.enabled()
    assert core.router_of(object()) is None  # type: ignore[arg-type]


@needs_core
async def test_a_live_subscriber_is_forwarded_by_the_core_with_its_sender_s_counts(
    session: Session, webm: Path
) -> None:
    player = session.player(webm)
    await session.join("applicant", [player.audio, player.video])
    viewer = await session.join("notary", [], decode=False, tap=True)
    assert viewer.peer is not None
    await wait_for(
        lambda: sum(len(r.frames) for r in viewer.received_of("video")) >= 30,
        timeout=10,
        what="video at the viewer",
    )
    tracks = dict(viewer.peer.subscriptions)
    assert len(tracks) == 2
    for publication, track in tracks.items():
        forwarder = track.forwarder
        assert forwarder is not None and forwarder.in_core, f"{publication} in Python"
        assert publication.transport is not None
        router = core.router_of(publication.transport)
        assert router is not None and router.forwarded > 0
    await asyncio.sleep(SYNC_INTERVAL * 2)
    for track in tracks.values():
        forwarder = track.forwarder
        assert forwarder is not None
        sender = next(s for s in viewer.peer.pc.getSenders() if s.track is track)
        # What the sender's RTCP reports and stats say: what the core sent, a tick behind.
        reported = sender.__dict__[SENDER_PACKET_COUNT]
        assert 0 < reported <= forwarder.forwarded <= reported + 30 / SYNC_INTERVAL
        stats = await sender.getStats()
        (outbound,) = [s for s in stats.values() if s.type == "outbound-rtp"]
        assert outbound.packetsSent == reported
        assert sender.transport.__dict__[TX_PACKETS] >= reported
    routers = {core.router_of(p.transport) for p in tracks if p.transport is not None}
    before = sum(r.route_count for r in routers)
    for publication in tracks:
        viewer.peer.unsubscribe(publication)
    assert sum(r.route_count for r in routers) == before - 2
    assert not any(t.forwarder.in_core for t in tracks.values() if t.forwarder is not None)


@pytest.mark.parametrize("module", ["_core", "_frames", "_rtp", "_remb"])
def test_the_core_is_built_where_there_is_a_compiler(module: str) -> None:
    # pyproject.toml builds media/'s C modules optionally: a broken build must not pass
    # unnoticed here (their own tests skip without them).
    compiler = sysconfig.get_config_var("CC") or "cc"
    if shutil.which(compiler.split()[0]) is None:
        pytest.skip(f"no C compiler ({compiler}): media/ runs in Python")
    try:
        importlib.import_module(f"media.{module}")
    except ImportError as error:
        pytest.fail(f"media/{module}.c did not build: run `make install` ({error})")
