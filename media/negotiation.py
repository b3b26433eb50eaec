"""Codec choices in SDP: what a publisher sends, and pinning a subscriber's m-line to it.

Forwarding without transcoding needs the subscriber's m-line to carry exactly the codec the
publisher sends. The publisher's codec is the first one of its m-line in our answer (aiortc
keeps the browser's order, so a browser preferring H.264 gets H.264); the subscriber's
transceiver is restricted to that codec (plus RTX) before the subscriber's offer is applied.
"""

from __future__ import annotations

from aiortc import RTCRtpSender, RTCSessionDescription
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import MediaDescription, SessionDescription

from media.frames import CodecInfo


class CodecUnavailable(ValueError):
    """The server cannot offer a subscriber the codec its publisher sends."""


def primary_codecs(description: RTCSessionDescription) -> dict[str, CodecInfo]:
    """mid -> first (preferred) non-RTX codec of each audio/video m-line."""
    parsed = SessionDescription.parse(description.sdp)
    codecs: dict[str, CodecInfo] = {}
    for media in parsed.media:
        if media.kind not in ("audio", "video"):
            continue
        primary = next((c for c in media.rtp.codecs if not is_rtx(c)), None)
        if primary is not None and media.rtp.muxId:
            codecs[media.rtp.muxId] = CodecInfo.from_aiortc(primary)
    return codecs


def _h264_key(parameters: object) -> tuple[str, str]:
    params = parameters if isinstance(parameters, dict) else {}
    profile = str(params.get("profile-level-id", "42e01f")).lower()
    # Profile and packetization mode must match; the level may differ (aiortc ignores it
    # when matching too), so compare profile_idc + constraint flags only.
    return profile[:4], str(params.get("packetization-mode", "0"))


def matches(mime_type: str, clock_rate: int, parameters: object, codec: CodecInfo) -> bool:
    """Whether an SDP/capability codec entry is the same codec as `codec`."""
    if mime_type.lower() != codec.mime_type.lower() or clock_rate != codec.clock_rate:
        return False
    return codec.name != "H264" or _h264_key(parameters) == _h264_key(dict(codec.parameters))


def offers_codec(media: MediaDescription, codec: CodecInfo) -> bool:
    """Whether a remote m-line lists `codec` (so it can receive it forwarded as is)."""
    return any(matches(c.mimeType, c.clockRate, c.parameters, codec) for c in media.rtp.codecs)


def codec_preferences(codec: CodecInfo) -> list[RTCRtpCodecCapability]:
    """aiortc capabilities that make an m-line carry only `codec` (and RTX for video)."""
    capabilities = RTCRtpSender.getCapabilities(codec.kind).codecs
    chosen = next(
        (c for c in capabilities if matches(c.mimeType, c.clockRate, c.parameters, codec)),
        None,
    )
    if chosen is None:
        raise CodecUnavailable(f"no sendable codec matches {codec.mime_type} {codec.parameters}")
    preferences = [chosen]
    if codec.kind == "video":
        preferences += [c for c in capabilities if is_rtx(c)]
    return preferences
