"""The forwarding step in C against the same step in Python, and the NACK generator, per packet.

`python -m tests.bench.core_costs` (also run by `make bench`). Side by side in one run, in CPU
time (`time.process_time_ns`, the fastest of `--repeat` rounds), over the benchmark source's
VP8 + Opus packets as a publisher sends them (tests/bench/packet_costs.py builds them):

    python:  SRTP unprotect (media/fast_srtp.py), RTP parse (media/fast_rtp.py), and the
             subscriber's RtpForwarder: rewrite, SRTP protect, sendto on a UDP socket
    core:    the publisher's Router (media/_core.c): unprotect, rewrite, protect, sendto, then
             the same RTP parse (the server still parses every packet for its receiver)

    nack:    aiortc's NackGenerator and media/fast_nack.py on the video stream with 2 % of
             its packets lost for good (the set of missing numbers never empties)

Both forwarding paths send to the same loopback socket, whose datagrams nobody reads (the
kernel drops them when its buffer is full; sendto costs the same). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pylibsrtp
from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import RtpPacket

from media import core, fast_nack
from media.fast_srtp import LeanSession
from media.rtp_forwarder import ABS_SEND_TIME_URI, AUDIO_LEVEL_URI, MID_URI, RtpForwarder
from tests.bench.packet_costs import SRTP_KEY, Wire, _extensions, _ns, _srtp, source_wires

SUBSCRIBER_KEY = bytes(reversed(SRTP_KEY))
SUBSCRIBER_CODECS = {
    "video": RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=120),
    "audio": RTCRtpCodecParameters(
        mimeType="audio/opus", clockRate=48000, channels=2, payloadType=109
    ),
}
LOSS_EVERY = 50  # the nack stage: one video packet in 50 lost for good


class _Transport:
    state = "connected"


class _SocketOutput:
    """RtpOutput's work without a DTLS transport: protect, then sendto."""

    def __init__(self, sock: socket.socket, address: tuple[str, int]) -> None:
        self._session = LeanSession(_policy(SUBSCRIBER_KEY))
        self._sock, self._address = sock, address

    def send(self, data: bytes) -> bool:
        self._sock.sendto(self._session.protect(data), self._address)
        return True


def _policy(key: bytes) -> pylibsrtp.Policy:
    return pylibsrtp.Policy(
        key=key,
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    )


def _forwarder(kind: str, output: Any) -> RtpForwarder:
    extensions = [
        RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI),
        RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI)
        if kind == "video"
        else RTCRtpHeaderExtensionParameters(id=2, uri=AUDIO_LEVEL_URI),
    ]
    parameters = RTCRtpSendParameters(
        codecs=[SUBSCRIBER_CODECS[kind]],
        headerExtensions=extensions,
        muxId="1",
        rtcp=RTCRtcpParameters(),
    )
    sender = RTCRtpSender(kind, _Transport())  # type: ignore[arg-type]
    return RtpForwarder(sender, parameters, kind, output=output)


def forwarding(streams: list[Wire], sock: socket.socket, sink: tuple[str, int]) -> dict[str, Any]:
    """The two forwarding paths over every packet, as callables to time."""
    extensions = _extensions()

    def python() -> None:
        for stream in streams:
            receiving = _srtp(outbound=False)
            forwarder = _forwarder(stream.kind, _SocketOutput(sock, sink))
            mime = stream.codec.mimeType
            for datagram in stream.datagrams:
                forwarder.forward(RtpPacket.parse(receiving.unprotect(datagram), extensions), mime)

    def in_core() -> None:
        for stream in streams:
            router = core.new_router(_srtp(outbound=False))
            forwarder = _forwarder(stream.kind, _SocketOutput(sock, sink))  # for its ids
            output = core.new_output(
                LeanSession(_policy(SUBSCRIBER_KEY)),
                os.dup(sock.fileno()),
                sink,
                ssrc=forwarder.ssrc,
                payload_type=forwarder.payload_type,
                mid_element=forwarder._mid_element,
                abs_send_time_id=forwarder._abs_send_time_id,
                audio_level_id=forwarder._audio_level_id,
            )
            output.follow(
                source=4242,
                payload_type=stream.codec.payloadType or 0,
                sequence_offset=1000,
                timestamp_offset=5,
                audio_level_id=3 if stream.kind == "audio" else 0,
            )
            router.route(4242, output)
            for datagram in stream.datagrams:
                received = router.receive(datagram)
                assert received is not None and received[1]
                RtpPacket.parse(received[0], extensions)
            output.close()

    return {"python": python, "core": in_core}


def nack(stream: Wire) -> dict[str, Callable[[], None]]:
    """Both NACK generators over the video stream with packets lost for good."""
    extensions = _extensions()
    receiving = _srtp(outbound=False)
    packets = [RtpPacket.parse(receiving.unprotect(d), extensions) for d in stream.datagrams]
    kept = [p for index, p in enumerate(packets) if index % LOSS_EVERY != LOSS_EVERY - 1]

    def run(generator: type[Any]) -> Callable[[], None]:
        def go() -> None:
            instance = generator()
            for packet in kept:
                instance.add(packet)

        return go

    return {"aiortc": run(fast_nack.ORIGINAL), "ours": run(fast_nack.FastNackGenerator)}


def run(source_path: Path | None = None, repeat: int = 5) -> dict[str, Any]:
    if not core.enabled():
        raise RuntimeError("media._core is not built or switched off: nothing to compare")
    streams, seconds = source_wires(source_path)
    packets = sum(len(s.datagrams) for s in streams)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sink.bind(("127.0.0.1", 0))
        paths = forwarding(streams, sock, sink.getsockname())
        forwarding_us = {name: _ns(go, repeat) / packets / 1000 for name, go in paths.items()}
    video = streams[0]
    generators = nack(video)
    nack_us = {
        name: _ns(go, repeat) / len(video.datagrams) / 1000 for name, go in generators.items()
    }
    return {
        "packets": packets,
        "seconds": seconds,
        "forward_us_per_packet": {k: round(v, 2) for k, v in forwarding_us.items()},
        "python_over_core": round(forwarding_us["python"] / forwarding_us["core"], 2),
        "nack_loss_every": LOSS_EVERY,
        "nack_us_per_packet": {k: round(v, 3) for k, v in nack_us.items()},
        "aiortc_nack_over_ours": round(nack_us["aiortc"] / nack_us["ours"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a VP8 + Opus WebM (default: generated)")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("REPEAT", "5")))
    args = parser.parse_args(argv)
    result = run(args.source, args.repeat)
    forward, nacks = result["forward_us_per_packet"], result["nack_us_per_packet"]
    print(f"{result['packets']} packets (VP8 + Opus, {result['seconds']:.0f} s)")
    print("step                                    python/aiortc µs   ours µs   ratio")
    print(
        f"unprotect, parse, rewrite, protect, send {forward['python']:16.2f} "
        f"{forward['core']:9.2f} {result['python_over_core']:7.2f}"
    )
    print(
        f"NACK generator, 1 in {LOSS_EVERY} lost            {nacks['aiortc']:16.3f} "
        f"{nacks['ours']:9.3f} {result['aiortc_nack_over_ours']:7.2f}"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
