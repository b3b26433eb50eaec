"""What the recorder needs to know about an encoded frame, without importing media/ or aiortc.

`media.EncodedFrame` satisfies `Frame` structurally; tests wrap demuxed av.Packets the same way.
Besides the protocols, this module holds the few facts about codecs that muxing needs: the
FFmpeg codec name, whether WebM can carry it, and a video keyframe's picture size, read from
the bitstream header (no decoder).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable


class CodecLike(Protocol):
    """A negotiated codec: `video/VP8`, 90000 Hz; `audio/opus`, 48000 Hz, 2 channels."""

    @property
    def mime_type(self) -> str: ...

    @property
    def clock_rate(self) -> int: ...

    @property
    def channels(self) -> int | None: ...


class Frame(Protocol):
    """One complete encoded frame of one track of one participant.

    `pts` counts `codec.clock_rate` ticks (from the track's first frame); `arrival` is the wall
    clock (time.time()) when the frame left the jitter buffer, the only clock a participant's
    audio and video share.
    """

    @property
    def kind(self) -> str: ...

    @property
    def codec(self) -> CodecLike: ...

    @property
    def data(self) -> bytes: ...

    @property
    def pts(self) -> int: ...

    @property
    def keyframe(self) -> bool: ...

    @property
    def arrival(self) -> float: ...


@runtime_checkable
class PushSource(Protocol):
    """A frame source that calls a consumer for each frame as it comes (media's Subscription).

    Cheaper than iterating: no queue and no task switch per frame. `on_end` is called once,
    when no more frames will come.
    """

    def deliver_to(self, consumer: Callable[[Frame], None], on_end: Callable[[], None]) -> None: ...


# RTP codec name (upper case) -> FFmpeg codec name. Only these are recorded.
MUX_CODECS = {"VP8": "vp8", "VP9": "vp9", "AV1": "av1", "H264": "h264", "OPUS": "opus"}
WEBM_CODECS = {"VP8", "VP9", "AV1", "OPUS"}  # WebM carries these; anything else needs Matroska


def codec_name(codec: CodecLike) -> str:
    """VP8, H264, OPUS, ... from `video/VP8`."""
    return codec.mime_type.split("/", 1)[-1].upper()


def picture_size(name: str, keyframe: bytes) -> tuple[int, int] | None:
    """Width and height coded in a keyframe, or None when they cannot be read."""
    try:
        if name == "VP8":
            return _vp8_size(keyframe)
        if name == "VP9":
            return _vp9_size(keyframe)
        if name == "H264":
            return _h264_size(keyframe)
    except (IndexError, ValueError):
        return None
    return None


def _vp8_size(data: bytes) -> tuple[int, int] | None:
    # RFC 6386 9.1: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


class _Bits:
    """Big-endian bit reader with Exp-Golomb codes (H.264 7.2, VP9 uncompressed header)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        byte = self.data[self.pos >> 3]  # IndexError past the end: caller gives up
        value = (byte >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def _vp9_size(data: bytes) -> tuple[int, int] | None:
    # VP9 bitstream spec 6.2 uncompressed_header, keyframe branch.
    bits = _Bits(data)
    if bits.bits(2) != 2:  # frame_marker
        return None
    profile = bits.bit() | (bits.bit() << 1)
    if profile == 3:
        bits.bit()
    if bits.bit():  # show_existing_frame
        return None
    if bits.bit() != 0:  # frame_type: 0 is a keyframe
        return None
    bits.bits(2)  # show_frame, error_resilient_mode
    if bits.bits(24) != 0x498342:  # sync code
        return None
    if profile >= 2:
        bits.bit()  # ten_or_twelve_bit
    if bits.bits(3) != 7:  # color_space other than sRGB
        bits.bit()  # color_range
        if profile in (1, 3):
            bits.bits(3)
    elif profile in (1, 3):
        bits.bit()
    return bits.bits(16) + 1, bits.bits(16) + 1


def _h264_size(data: bytes) -> tuple[int, int] | None:
    # The first SPS NAL unit of an Annex-B access unit (H.264 7.3.2.1.1).
    for nal in _annexb_nal_units(data):
        if nal and nal[0] & 0x1F == 7:
            return _sps_size(_unescape(nal[1:]))
    return None


def _annexb_nal_units(data: bytes) -> list[bytes]:
    units: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        end = data.find(b"\x00\x00\x01", begin)
        unit = data[begin:] if end == -1 else data[begin:end]
        units.append(unit.rstrip(b"\x00"))  # the zero of a following 4-byte start code
        start = end
    return units


def _unescape(payload: bytes) -> bytes:
    # Remove emulation prevention bytes (00 00 03 -> 00 00).
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def _sps_size(sps: bytes) -> tuple[int, int] | None:
    bits = _Bits(sps)
    profile_idc = bits.bits(8)
    bits.bits(16)  # constraint flags, level_idc
    bits.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in HIGH_PROFILES:
        chroma_format_idc = bits.ue()
        if chroma_format_idc == 3:
            bits.bit()  # separate_colour_plane_flag
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.bit()  # qpprime_y_zero_transform_bypass_flag
        if bits.bit():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if bits.bit():
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.bit()
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_map_units = bits.ue() + 1
    frame_mbs_only = bits.bit()
    if not frame_mbs_only:
        bits.bit()  # mb_adaptive_frame_field_flag
    bits.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_map_units * 16 * (2 - frame_mbs_only)
    if bits.bit():  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        crop_x = 1 if chroma_format_idc in (0, 3) else 2
        crop_y = (1 if chroma_format_idc in (0, 2, 3) else 2) * (2 - frame_mbs_only)
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    return (width, height) if width > 0 and height > 0 else None


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last, following = 8, 8
    for _ in range(size):
        if following:
            following = (last + bits.se()) % 256
        last = following or last
