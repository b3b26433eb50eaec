"""Whether an RTP packet's payload begins a keyframe, read from the payload format alone.

A subscriber can only start decoding at a keyframe, so a packet-level forwarder starts each
subscriber's stream at the first packet of one. Only the first packet of a frame can say so:
the rest of the frame carries no picture header.
"""

from __future__ import annotations

from collections.abc import Callable

KeyframeStart = Callable[[bytes], bool]

H264_IDR = 5
H264_SPS = 7
H264_STAP_A = 24
H264_FU_A = 28


def vp8_starts_keyframe(payload: bytes) -> bool:
    """RFC 7741: the start of partition 0 (S=1, PID=0) of a frame whose P bit is 0."""
    if len(payload) < 1:
        return False
    descriptor = payload[0]
    if not descriptor & 0x10 or descriptor & 0x07:
        return False
    offset = 1
    if descriptor & 0x80:  # X: extension byte follows
        if len(payload) < 2:
            return False
        extension = payload[1]
        offset = 2
        if extension & 0x80:  # I: picture ID, 7 or 15 bits
            if len(payload) <= offset:
                return False
            offset += 2 if payload[offset] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            offset += 1
        if extension & 0x30:  # T or K: TID/Y/KEYIDX
            offset += 1
    # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
    return len(payload) > offset and not payload[offset] & 0x01


def h264_starts_keyframe(payload: bytes) -> bool:
    """RFC 6184: an SPS or IDR slice alone, first in a STAP-A, or starting an FU-A.

    Browsers send SPS and PPS right before each IDR, so the SPS is where a decoder can start;
    an IDR with no SPS before it is accepted too (parameter sets sent out of band).
    """
    if len(payload) < 2:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (H264_IDR, H264_SPS):
        return True
    if nal_type == H264_STAP_A:
        offset = 1
        while offset + 2 < len(payload):
            size = int.from_bytes(payload[offset : offset + 2], "big")
            if size == 0:
                return False
            if payload[offset + 2] & 0x1F in (H264_IDR, H264_SPS):
                return True
            offset += 2 + size
        return False
    if nal_type == H264_FU_A:
        fu_header = payload[1]
        return bool(fu_header & 0x80) and fu_header & 0x1F == H264_IDR
    return False


def _never(payload: bytes) -> bool:
    return False


def keyframe_start_for(mime_type: str) -> KeyframeStart:
    """The check for a video codec; an unknown codec never starts (wait, never corrupt)."""
    name = mime_type.split("/", 1)[-1].upper()
    return {"VP8": vp8_starts_keyframe, "H264": h264_starts_keyframe}.get(name, _never)
