"""Where a forwarded packet's CPU goes: each stage of the server's path, timed in one process.

`python -m tests.bench.packet_costs` (also run by `make bench`). The forwarding benchmark
(tests/bench/forwarding.py) measures whole processes on a shared machine, where other work moves
the figures by 15 % and more. This one runs every stage of the path one VP8 + Opus stream takes
through the server, on the benchmark's own source, with CPU time (`time.process_time_ns`) over
thousands of packets, so that changes to one stage can be compared:

    receive: SRTP unprotect, RTP parse, arrival clock, bandwidth estimator (REMB),
             NACK generator + RTCP statistics, depayload + jitter buffer
    media/:  encoded frame -> publication -> subscription -> av.Packet (per frame)
    send:    VP8/Opus packetization, RTP serialize with header extensions, two NTP clock
             reads, SRTP protect

    i/o:     UDP send and receive through asyncio's transports on one loop

Side by side, in the same run: aiortc as shipped, and with media/'s replacements installed
(media/fast_clock.py, fast_rate.py, fast_remb.py, fast_rtp.py, fast_srtp.py). Not included:
aioice's and aiortc's per-packet queue hops and task switches, RTCP, and the cost of waking the
other process for a packet, which the process-level benchmark shows are the rest. Last line: one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pylibsrtp
from aiortc import clock, rtcdtlstransport, rtcrtpreceiver
from aiortc.codecs import depayload, get_encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rate import OveruseEstimator, RateCounter, RemoteBitrateEstimator
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
)
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media import Publication, fast_clock, fast_rate, fast_rtp
from media.frames import CodecInfo, EncodedFrame, is_keyframe
from tests.bench.paced_source import EncodedFile
from tests.bench.source import make_source_webm, media_duration

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
EXTENSIONS = [
    RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    RTCRtpHeaderExtensionParameters(
        id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    ),
    RTCRtpHeaderExtensionParameters(id=3, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
]
SRTP_KEY = bytes(range(44))  # AES-256-GCM: 32-byte key + 12-byte salt, aiortc's first choice


@dataclass(frozen=True)
class Wire:
    """One stream as it arrives: SRTP datagrams and the arrival time of each, in ms."""

    kind: str
    codec: RTCRtpCodecParameters
    frames: list[bytes]
    datagrams: list[bytes]
    arrivals_ms: list[int]


def _extensions() -> HeaderExtensionsMap:
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpParameters(headerExtensions=EXTENSIONS))
    return extensions


def _srtp(outbound: bool) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(
        key=SRTP_KEY,
        ssrc_type=(
            pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound else pylibsrtp.Policy.SSRC_ANY_INBOUND
        ),
        srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    )
    # What aiortc's DTLS transport builds: pylibsrtp's Session, or media/fast_srtp's.
    session: pylibsrtp.Session = rtcdtlstransport.Session(policy)
    return session


def wire(source: EncodedFile, kind: str) -> Wire:
    """Packetize the stream as a publisher would and protect it, once, for the stages to read."""
    stream = source.streams[kind]
    codec = VP8 if kind == "video" else OPUS
    encoder = get_encoder(codec)
    extensions, srtp = _extensions(), _srtp(outbound=True)
    datagrams, arrivals, frames = [], [], []
    sequence = 0
    for stored in stream.packets:
        packet = av.Packet(stored.data)
        packet.pts, packet.time_base = stored.pts, stream.time_base
        payloads, timestamp = encoder.pack(packet)
        frames.append(stored.data)
        arrival_ms = 10_000 + int(stored.pts * stream.time_base * 1000)
        for index, payload in enumerate(payloads):
            rtp = RtpPacket(payload_type=codec.payloadType, sequence_number=sequence)
            rtp.timestamp, rtp.ssrc, rtp.payload = timestamp, 4242, payload
            rtp.marker = int(index == len(payloads) - 1)
            rtp.extensions.mid = "0"
            rtp.extensions.abs_send_time = (arrival_ms * (1 << 18) // 1000) & 0xFFFFFF
            if kind == "audio":  # as browsers send Opus: with its level (RFC 6464)
                rtp.extensions.audio_level = (True, 30 + index % 40)
            datagrams.append(srtp.protect(rtp.serialize(extensions)))
            arrivals.append(arrival_ms)
            sequence = (sequence + 1) & 0xFFFF
    return Wire(kind, codec, frames, datagrams, arrivals)


def _ns(run: Callable[[], Any], repeat: int) -> float:
    """CPU nanoseconds of the fastest of `repeat` runs (the least disturbed one)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time_ns()
        run()
        best = min(best, time.process_time_ns() - started)
    return best


@contextmanager
def aiortc_as_shipped() -> Iterator[None]:
    """aiortc's own clock, estimator and RTP parse functions, restored to what was installed
    after."""
    installed = (
        clock.current_ms,
        clock.current_ntp_time,
        RateCounter._erase_old,
        OveruseEstimator.update_min_frame_period,
    )
    # Read from the class __dict__: the classmethod object itself, not a bound method.
    installed_rtp = (
        vars(RtpPacket)["parse"],
        HeaderExtensionsMap.get,
        HeaderExtensionsMap.configure,
    )
    installed_estimator = rtcrtpreceiver.RemoteBitrateEstimator
    installed_session = rtcdtlstransport.Session
    rtcrtpreceiver.RemoteBitrateEstimator = RemoteBitrateEstimator  # type: ignore[misc]
    rtcdtlstransport.Session = pylibsrtp.Session  # type: ignore[misc]
    clock.current_ms = fast_clock.ORIGINAL_CURRENT_MS
    clock.current_ntp_time = fast_clock.ORIGINAL_CURRENT_NTP_TIME
    RateCounter._erase_old = fast_rate.ORIGINAL_ERASE_OLD  # type: ignore[method-assign]
    OveruseEstimator.update_min_frame_period = fast_rate.ORIGINAL_UPDATE_MIN_FRAME_PERIOD  # type: ignore[method-assign]
    RtpPacket.parse = classmethod(fast_rtp.ORIGINAL_PARSE)  # type: ignore[method-assign,assignment]
    HeaderExtensionsMap.get = fast_rtp.ORIGINAL_GET  # type: ignore[method-assign]
    HeaderExtensionsMap.configure = fast_rtp.ORIGINAL_CONFIGURE  # type: ignore[method-assign]
    try:
        yield
    finally:
        clock.current_ms, clock.current_ntp_time = installed[0], installed[1]
        RateCounter._erase_old = installed[2]  # type: ignore[method-assign]
        OveruseEstimator.update_min_frame_period = installed[3]  # type: ignore[method-assign]
        RtpPacket.parse = installed_rtp[0]  # type: ignore[method-assign]
        HeaderExtensionsMap.get = installed_rtp[1]  # type: ignore[method-assign]
        HeaderExtensionsMap.configure = installed_rtp[2]  # type: ignore[method-assign]
        rtcrtpreceiver.RemoteBitrateEstimator = installed_estimator  # type: ignore[misc]
        rtcdtlstransport.Session = installed_session  # type: ignore[misc]


def stages(streams: list[Wire]) -> dict[str, Callable[[], None]]:
    """Each stage over every packet (or frame) of the given streams, as a callable to time."""
    extensions = _extensions()
    plain = {s.kind: [_srtp(outbound=False).unprotect(d) for d in s.datagrams] for s in streams}
    parsed = {s.kind: [RtpPacket.parse(d, extensions) for d in plain[s.kind]] for s in streams}
    # The serialize stage rewrites abs-send-time: on its own copies, so that the estimator reads
    # the source's send times in every round.
    outgoing = {s.kind: [RtpPacket.parse(d, extensions) for d in plain[s.kind]] for s in streams}

    def unprotect() -> None:
        for stream in streams:
            session = _srtp(outbound=False)
            for datagram in stream.datagrams:
                session.unprotect(datagram)

    def parse() -> None:
        for stream in streams:
            for data in plain[stream.kind]:
                RtpPacket.parse(data, extensions)

    def arrival_clock() -> None:
        for stream in streams:
            for _ in stream.datagrams:
                clock.current_ms()

    def remb() -> None:
        for stream in streams:
            if stream.kind != "video":
                continue  # browsers send abs-send-time on video only
            estimator = rtcrtpreceiver.RemoteBitrateEstimator()  # what a receiver builds
            for packet, arrival in zip(parsed["video"], stream.arrivals_ms, strict=True):
                estimator.add(arrival, packet.extensions.abs_send_time, len(packet.payload), 1)

    def nack_and_statistics() -> None:
        for stream in streams:
            nacks, statistics = NackGenerator(), StreamStatistics(stream.codec.clockRate)
            for packet in parsed[stream.kind]:
                statistics.add(packet)
                nacks.add(packet)

    def jitter_buffer() -> None:
        for stream in streams:
            video = stream.kind == "video"
            buffer = JitterBuffer(capacity=128 if video else 16, is_video=video)
            for packet in parsed[stream.kind]:
                packet._data = depayload(stream.codec, packet.payload)  # type: ignore[attr-defined]
                buffer.add(packet)

    def product() -> None:
        for stream in streams:
            info = CodecInfo.from_aiortc(stream.codec)
            publication = Publication("p", stream.kind, "t")
            subscription = publication.subscribe()
            for pts, data in enumerate(stream.frames):
                publication.publish(
                    EncodedFrame(stream.kind, info, data, pts, is_keyframe(info, data), 0.0)
                )
                frame = subscription.get_nowait()
                if frame is not None:
                    frame.to_packet()

    def packetize() -> None:
        for stream in streams:
            encoder = get_encoder(stream.codec)
            base = 1 if stream.kind == "video" else 2
            for pts, data in enumerate(stream.frames):
                packet = av.Packet(data)
                packet.pts, packet.time_base = pts, base
                encoder.pack(packet)

    def serialize() -> None:
        for stream in streams:
            for packet in outgoing[stream.kind]:
                packet.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0xFFFFFF
                packet.serialize(extensions)
                clock.current_ntp_time()  # aiortc reads it again for the next sender report

    def protect() -> None:
        for stream in streams:
            session = _srtp(outbound=True)
            for data in plain[stream.kind]:
                session.protect(data)

    datagrams = [d for stream in streams for d in stream.datagrams]

    def socket_and_loop() -> None:
        asyncio.run(_loopback_udp(datagrams))

    return {
        "srtp unprotect": unprotect,
        "rtp parse": parse,
        "arrival clock": arrival_clock,
        "bandwidth estimator (REMB)": remb,
        "nack + rtcp statistics": nack_and_statistics,
        "depayload + jitter buffer": jitter_buffer,
        "media/ fan-out (per frame)": product,
        "packetize (per frame)": packetize,
        "rtp serialize + ntp clock": serialize,
        "srtp protect": protect,
        "udp send + receive via asyncio": socket_and_loop,
    }


async def _loopback_udp(datagrams: list[bytes]) -> None:
    """Each datagram sent with asyncio's UDP transport and received by a protocol, in bursts of
    a video frame's size (the server's pattern), on one loop: syscalls and loop overhead, but
    not the cost of waking another process, which a real peer adds."""
    loop = asyncio.get_running_loop()
    received = 0
    caught_up: asyncio.Future[None] | None = None
    target = 0

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            nonlocal received
            received += 1
            if caught_up is not None and received >= target and not caught_up.done():
                caught_up.set_result(None)

    receiver, _ = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    address = receiver.get_extra_info("sockname")
    sender, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=address)
    try:
        for start in range(0, len(datagrams), 4):
            burst = datagrams[start : start + 4]
            target += len(burst)
            caught_up = loop.create_future()
            for datagram in burst:
                sender.sendto(datagram)
            await asyncio.wait_for(caught_up, 10)  # the burst is in before the next one goes
    finally:
        sender.close()
        receiver.close()


def measure(streams: list[Wire], repeat: int) -> dict[str, dict[str, float]]:
    """µs per packet of each stage, aiortc as shipped and with media/'s replacements."""
    packets = sum(len(s.datagrams) for s in streams)
    contexts = (("aiortc", aiortc_as_shipped), ("ours", _installed))
    prepared = {}
    for label, context in contexts:
        with context():
            prepared[label] = stages(streams)
    best: dict[str, dict[str, float]] = {}
    # The two take turns in every round (the fastest round counts), so that a change in the
    # machine's load during the run moves both alike.
    for _ in range(repeat):
        for label, context in contexts:
            with context():
                for name, run in prepared[label].items():
                    row = best.setdefault(name, {})
                    row[label] = min(row.get(label, float("inf")), _ns(run, 1))
    return {
        name: {label: ns / packets / 1000 for label, ns in row.items()}
        for name, row in best.items()
    }


@contextmanager
def _installed() -> Iterator[None]:
    yield  # importing media installed them


def report(results: dict[str, dict[str, float]], packets: int, seconds: float) -> dict[str, Any]:
    print(f"{packets} packets ({packets / seconds:.0f} a second of one VP8 + Opus publisher)")
    print(f"{'stage':32} {'aiortc µs/pkt':>14} {'ours µs/pkt':>12} {'ratio':>6}")
    for name, row in results.items():
        ratio = row["aiortc"] / row["ours"] if row["ours"] else 0.0
        print(f"{name:32} {row['aiortc']:14.2f} {row['ours']:12.2f} {ratio:6.2f}")
    total_aiortc = sum(r["aiortc"] for r in results.values())
    total_ours = sum(r["ours"] for r in results.values())
    print(f"{'total':32} {total_aiortc:14.2f} {total_ours:12.2f} {total_aiortc / total_ours:6.2f}")
    return {
        "packets": packets,
        "packets_per_second": round(packets / seconds),
        "stages_us_per_packet": {
            name: {k: round(v, 3) for k, v in row.items()} for name, row in results.items()
        },
        "total_us_per_packet_aiortc": round(total_aiortc, 2),
        "total_us_per_packet_ours": round(total_ours, 2),
        "aiortc_over_ours": round(total_aiortc / total_ours, 3),
    }


def source_wires(source_path: Path | None = None) -> tuple[list[Wire], float]:
    """The video and audio of `source_path` (default: the generated 10 s source) as a
    publisher sends them, and the source's length in seconds."""
    with tempfile.TemporaryDirectory() as work:
        path = source_path or make_source_webm(Path(work) / "source.webm", seconds=10)
        seconds = media_duration(path)
        source = EncodedFile(path, seconds)
        return [wire(source, "video"), wire(source, "audio")], seconds


def run(source_path: Path | None = None, repeat: int = 5) -> dict[str, Any]:
    streams, seconds = source_wires(source_path)
    packets = sum(len(s.datagrams) for s in streams)
    return report(measure(streams, repeat), packets, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a VP8 + Opus WebM (default: generated)")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("REPEAT", "5")))
    args = parser.parse_args(argv)
    print(json.dumps(run(args.source, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
