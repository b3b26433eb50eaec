"""Receiving VP8 and Opus: every packet in Python against the packets in order in C.

`python -m tests.bench.continuation_costs` (also run by `make bench`). Side by side in one run,
in CPU time (`time.process_time_ns`, the fastest of `--repeat` alternated rounds, the garbage
collector held off while timed: its pauses moved single rounds by 20 %), over 30 s of the
benchmark source's video and audio as a publisher sends them (tests/bench/packet_costs.py
packetizes and protects them: ~4 packets a video frame at 1 Mbit/s, an Opus frame a packet;
mid and abs-send-time on each, the audio level on audio):

    python:     the transport's Router unprotects (media/_core.c), then media/sync_receive.py
                for every packet: parse, route, estimator, statistics, NACK generator, the C
                frame buffer, the receiver tap, the publication's counters
    continued:  the same, with media/continuation.py armed: the packets in order are handled
                in the Router, without Python, except a keyframe's first packet, the 200 ms
                after it (kept for new subscribers) and one packet a second

Both end with the same frames published (checked); a frame whole is handed to Python either
way (to the receiver tap). Not included: the datagram's way through the event loop to
`datagram_received`, the same for both. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import tempfile
import time
from pathlib import Path
from typing import Any

import pylibsrtp
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCRtpReceiver,
    clock,
)
from aiortc.rtcrtpparameters import RTCRtpParameters

from media import continuation, core, sync_receive
from media.fanout import Publication
from media.frames import EncodedFrame
from media.receiver_tap import ReceiverTap
from tests.bench.packet_costs import EXTENSIONS, OPUS, SRTP_KEY, VP8, Wire, source_wires
from tests.bench.source import make_source_webm

SSRC = 4242


class Receiver:
    """A publisher's receiver as media/peer.py wires it (tap, publication, C buffer)."""

    def __init__(self, kind: str, continued: bool) -> None:
        self.transport = RTCDtlsTransport(
            RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
        )
        self.transport._rtp_header_extensions_map.configure(
            RTCRtpParameters(headerExtensions=EXTENSIONS)
        )
        codec = VP8 if kind == "video" else OPUS
        self.receiver = RTCRtpReceiver(kind, self.transport)
        state = self.receiver.__dict__
        state[sync_receive.CODECS][codec.payloadType] = codec
        state[sync_receive.DECODER_THREAD] = object()  # "running": frames go to the tap
        state[sync_receive.DECODER_QUEUE] = queue.Queue()
        self.transport._rtp_router.register_receiver(
            self.receiver, ssrcs=[SSRC], payload_types=[codec.payloadType], mid="0"
        )
        self.frames: list[bytes] = []
        self.tap = ReceiverTap(self.receiver, kind, self._frame)
        self.publication = Publication("p", kind, "t")
        self.tap.on_packet = self.publication.forward
        session = pylibsrtp.Session(
            pylibsrtp.Policy(
                key=SRTP_KEY,
                ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
            )
        )
        self.router = core.new_router(session)
        if continued:
            continuation.install(self.receiver, self.router, self.tap, self.publication)

    def _frame(self, frame: EncodedFrame) -> None:
        self.frames.append(frame.data)

    def receive(self, datagrams: list[bytes]) -> None:
        """As media/direct_receive.py: arrival from the clock (as the Router reads it for the
        packets it handles: the bandwidth estimator sees one time base)."""
        router, transport, receive_rtp = self.router, self.transport, sync_receive.receive_rtp
        current_ms = clock.current_ms
        for datagram in datagrams:
            arrival = current_ms()
            received = router.receive(datagram)
            if received is not None and received is not True:
                receive_rtp(transport, received[0], arrival, received[1])


def measure(stream: Wire, repeat: int) -> dict[str, Any]:
    """Both ways over one stream: the fastest of `repeat` alternated rounds each."""
    packets = len(stream.datagrams)
    best = {"python": float("inf"), "continued": float("inf")}
    last: dict[str, Receiver] = {}
    for _ in range(repeat):  # alternated, the fastest round of each kept
        for name in best:
            # Made before the clock runs (a certificate each), fresh each round (SRTP replay).
            receiver = Receiver(stream.kind, continued=name == "continued")
            # The collector would stop in one round and not the other: none while timed.
            gc.collect()
            gc.disable()
            try:
                started = time.process_time_ns()
                receiver.receive(stream.datagrams)
                best[name] = min(best[name], time.process_time_ns() - started)
            finally:
                gc.enable()
            last[name] = receiver
    if last["python"].frames != last["continued"].frames or not last["python"].frames:
        raise RuntimeError(f"the two ways published different {stream.kind} frames")
    cpu_us = {name: ns / packets / 1000 for name, ns in best.items()}
    return {
        "packets": packets,
        "frames": len(stream.frames),
        "handled_in_c": last["continued"].router.continued,
        "receive_us_per_packet": {k: round(v, 2) for k, v in cpu_us.items()},
        "python_over_continued": round(cpu_us["python"] / cpu_us["continued"], 2),
    }


def run(source_path: Path | None = None, repeat: int = 5, seconds: int = 30) -> dict[str, Any]:
    if not core.enabled() or continuation.FrameBuffer is None:
        raise RuntimeError("media._core or media._frames is not built: nothing to compare")
    with tempfile.TemporaryDirectory() as work:
        path = source_path or make_source_webm(Path(work) / "source.webm", seconds=seconds)
        streams, length = source_wires(path)
    result: dict[str, Any] = {"seconds": length}
    for stream in streams:
        result[stream.kind] = measure(stream, repeat)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a VP8 + Opus WebM (default: generated)")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("REPEAT", "5")))
    args = parser.parse_args(argv)
    result = run(args.source, args.repeat)
    print(f"{result['seconds']:.0f} s of the source, receive path from the Router's unprotect")
    print("stream  packets  frames  in C    every packet in Python µs  continued µs  ratio")
    for kind in ("video", "audio"):
        each = result[kind]
        cpu = each["receive_us_per_packet"]
        print(
            f"{kind:6} {each['packets']:8} {each['frames']:7} {each['handled_in_c']:5} "
            f"{cpu['python']:26.2f} {cpu['continued']:13.2f} {each['python_over_continued']:6.2f}"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
