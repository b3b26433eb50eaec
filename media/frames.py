"""Encoded frames as they leave aiortc's jitter buffer, and how to tell a keyframe."""

from __future__ import annotations

import fractions
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import av
from aiortc import RTCRtpCodecParameters

ParameterValue = str | int | None


@dataclass(frozen=True, slots=True)
class CodecInfo:
    """A negotiated codec, as plain data (consumers need not import aiortc)."""

    mime_type: str
    clock_rate: int
    channels: int | None = None
    parameters: Mapping[str, ParameterValue] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.mime_type.split("/", 1)[0].lower()

    @property
    def name(self) -> str:
        """Codec name in upper case: VP8, H264, OPUS, ..."""
        return self.mime_type.split("/", 1)[1].upper()

    @property
    def time_base(self) -> fractions.Fraction:
        return _time_base(self.clock_rate)

    @classmethod
    def from_aiortc(cls, codec: RTCRtpCodecParameters) -> CodecInfo:
        return cls(
            mime_type=codec.mimeType,
            clock_rate=codec.clockRate,
            channels=codec.channels,
            parameters=dict(codec.parameters),
        )


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One complete encoded frame of one track.

    `pts` counts `codec.clock_rate` ticks from the track's first frame (aiortc maps RTP
    timestamps, wrap included). H.264 data is Annex-B (start codes), as aiortc depayloads it
    and as its sender packetizes it. `arrival` is the wall clock (time.time()) at the tap: the
    only clock shared by a participant's audio and video, used to line them up. `track_id`
    names the publication, for consumers of several tracks at once.
    """

    kind: str
    codec: CodecInfo
    data: bytes
    pts: int
    keyframe: bool
    arrival: float
    track_id: str = ""

    @property
    def time_base(self) -> fractions.Fraction:
        return self.codec.time_base

    def to_packet(self) -> av.Packet:
        """The frame as an av.Packet, which aiortc's sender packetizes without encoding."""
        packet = av.Packet(self.data)
        packet.pts = self.pts
        packet.dts = self.pts
        packet.time_base = self.codec.time_base
        return packet


@functools.cache
def _time_base(clock_rate: int) -> fractions.Fraction:
    # Read for every forwarded frame; building a Fraction each time showed in profiles.
    return fractions.Fraction(1, clock_rate)


def is_keyframe(codec: CodecInfo, data: bytes) -> bool:
    """Whether a decoder can start at this frame. Audio frames always can."""
    return keyframe_test(codec)(data)


def keyframe_test(codec: CodecInfo) -> Callable[[bytes], bool]:
    """`is_keyframe` for one codec, chosen once (the receiver tap asks for every frame)."""
    if codec.kind != "video":
        return _always
    if codec.name == "VP8":
        return is_vp8_keyframe
    if codec.name == "H264":
        return is_h264_keyframe
    # Unknown video codec: never claim a keyframe, so gating waits rather than corrupts.
    return _never


def _always(data: bytes) -> bool:
    return True


def _never(data: bytes) -> bool:
    return False


def is_vp8_keyframe(data: bytes) -> bool:
    # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame, which also carries
    # the start code 9d 01 2a at bytes 3..5.
    return len(data) >= 6 and not data[0] & 0x01 and data[3:6] == b"\x9d\x01\x2a"


H264_NAL_IDR = 5


def is_h264_keyframe(data: bytes) -> bool:
    """An Annex-B access unit holding an IDR slice."""
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        if data[pos + 3] & 0x1F == H264_NAL_IDR:
            return True
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return False
