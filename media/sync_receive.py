"""aiortc's handling of an incoming RTP packet as one plain function: no coroutine per packet.

aiortc 1.16.0 handles every RTP packet in two coroutines, `RTCDtlsTransport._handle_rtp_data`
(parse, route) and `RTCRtpReceiver._handle_rtp_packet` (bandwidth estimate, statistics, RTX,
NACK, depayload, jitter buffer), which wait only to send RTCP feedback. media/direct_receive.py
drove them with `run_now`: two coroutine objects and their frames per packet, and every piece of
the receiver's state read through a name-mangled attribute. `receive_rtp()` does the same steps
in the same order on the same objects; the feedback (REMB, NACK, PLI: a few a second at most)
still goes through aiortc's own coroutines, driven by `run_now`.

One step is skipped where nobody needs it: while no consumer wants whole frames (the receiver's
buffer says so, media/frame_buffers.py), packets are forwarded as they are and never depayloaded.
A payload aiortc could not depayload is then forwarded instead of dropped, as Janus does; a
subscriber's decoder copes with it as with any damaged packet.

tests/media/test_sync_receive.py runs aiortc's path and this one side by side on the same
packets and compares what each receiver ends up with.
"""

from __future__ import annotations

import struct

from aiortc import RTCDtlsTransport, RTCRtpCodecParameters, RTCRtpReceiver, clock
from aiortc.codecs import depayload, is_rtx
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci, unwrap_rtx

from media.compat import AiortcVersionError
from media.core import SERIAL as CORE_SERIAL
from media.eager import run_now
from media.frame_buffers import FrameBuffer

try:
    from media._frames import DEPAYLOAD_AS_IS, DEPAYLOAD_DONE, DEPAYLOAD_VP8
except ImportError:  # not built: FrameBuffer is None, never asked
    DEPAYLOAD_AS_IS, DEPAYLOAD_VP8, DEPAYLOAD_DONE = 0, 1, 2

# aiortc 1.16.0's private receiver state (media/compat.py pins the release).
_P = "_RTCRtpReceiver__"
ACTIVE_SSRC = _P + "active_ssrc"
CODECS = _P + "codecs"
DECODER_ERROR = _P + "decoder_error"
DECODER_QUEUE = _P + "decoder_queue"
DECODER_THREAD = _P + "decoder_thread"
KIND = _P + "kind"
JITTER_BUFFER = _P + "jitter_buffer"
NACK_GENERATOR = _P + "nack_generator"
BITRATE_ESTIMATOR = _P + "remote_bitrate_estimator"
REMOTE_STREAMS = _P + "remote_streams"
RTCP_SSRC = _P + "rtcp_ssrc"
RTX_SSRC = _P + "rtx_ssrc"
TIMESTAMP_MAPPER = _P + "timestamp_mapper"
# A receiver whose packets in order the C core may handle (media/continuation.py).
CONTINUATION = "_notarylink_continuation"
STATE = (
    ACTIVE_SSRC,
    CODECS,
    DECODER_ERROR,
    DECODER_QUEUE,
    DECODER_THREAD,
    KIND,
    JITTER_BUFFER,
    NACK_GENERATOR,
    BITRATE_ESTIMATOR,
    REMOTE_STREAMS,
    RTCP_SSRC,
    RTX_SSRC,
    TIMESTAMP_MAPPER,
)

# Mime type -> whether it is RTX (aiortc's is_rtx splits the mime type on every packet).
_rtx_mime: dict[str, bool] = {}
# Mime type -> how the C buffer depayloads it: VP8 there, H.264 here (aiortc's depayload),
# everything else (Opus) as it is, as aiortc's depayload() decides by the codec's name.
_depayload_mime: dict[str, int] = {}


def _depayload_in_c(codec: RTCRtpCodecParameters) -> int:
    name = codec.name
    return DEPAYLOAD_VP8 if name == "VP8" else DEPAYLOAD_DONE if name == "H264" else DEPAYLOAD_AS_IS


def receive_rtp(
    transport: RTCDtlsTransport, data: bytes, arrival_time_ms: int, serial: int = 0
) -> None:
    """`RTCDtlsTransport._handle_rtp_data` for an unprotected RTP packet, without waiting.

    `serial`: the C core's number for a packet it already forwarded to some subscribers
    (media/core.py), kept on the packet so that their forwarders skip it."""
    try:
        packet = RtpPacket.parse(data, transport._rtp_header_extensions_map)
    except (ValueError, struct.error):
        # aiortc drops what it cannot parse; an extension value of the wrong length raises
        # struct.error there, which must not log a traceback per packet either.
        return
    if serial:
        packet.__dict__[CORE_SERIAL] = serial
    receiver = transport._rtp_router.route_rtp(packet)
    if receiver is None:
        return
    if type(receiver) is RTCRtpReceiver:
        handle_rtp_packet(receiver, packet, arrival_time_ms)
    else:  # a receiver of some other kind: its own handler
        run_now(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms))


def handle_rtp_packet(receiver: RTCRtpReceiver, packet: RtpPacket, arrival_time_ms: int) -> None:
    """`RTCRtpReceiver._handle_rtp_packet`, step for step, as a plain function."""
    if not receiver._enabled:
        return
    state = receiver.__dict__

    estimator = state[BITRATE_ESTIMATOR]
    if estimator is not None:
        abs_send_time = packet.extensions.abs_send_time
        if abs_send_time is not None:
            # Positional (every estimator here has aiortc's order): keywords cost a C one more.
            size = len(packet.payload) + packet.padding_size
            remb = estimator.add(arrival_time_ms, abs_send_time, size, packet.ssrc)
            rtcp_ssrc = state[RTCP_SSRC]
            if rtcp_ssrc is not None and remb is not None:
                feedback = RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                )
                run_now(receiver._send_rtcp(feedback))

    state[ACTIVE_SSRC][packet.ssrc] = clock.current_datetime()

    codecs = state[CODECS]
    codec = codecs.get(packet.payload_type)
    if codec is None:
        return

    streams = state[REMOTE_STREAMS]
    statistics = streams.get(packet.ssrc)
    if statistics is None:
        statistics = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
    statistics.add(packet)

    rtx = _rtx_mime.get(codec.mimeType)
    if rtx is None:
        rtx = _rtx_mime[codec.mimeType] = is_rtx(codec)
    if rtx:
        original_ssrc = state[RTX_SSRC].get(packet.ssrc)
        if original_ssrc is None:
            return
        apt = codec.parameters.get("apt")
        if len(packet.payload) < 2 or not isinstance(apt, int) or apt not in codecs:
            return
        packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
        codec = codecs[apt]

    nack_generator = state[NACK_GENERATOR]
    if nack_generator is not None and nack_generator.add(packet):
        run_now(receiver._send_rtcp_nack(packet.ssrc, sorted(nack_generator.missing)))

    jitter_buffer = state[JITTER_BUFFER]
    if type(jitter_buffer) is FrameBuffer:  # media/_frames.c depayloads and assembles
        how = _depayload_mime.get(codec.mimeType)
        if how is None:
            how = _depayload_mime[codec.mimeType] = _depayload_in_c(codec)
        try:
            if how == DEPAYLOAD_DONE and jitter_buffer.frames_wanted:
                packet._data = depayload(codec, packet.payload) if packet.payload else b""  # type: ignore[attr-defined]
            pli_flag, encoded_frame = jitter_buffer.add(packet, how)
        except ValueError:
            return
    else:
        if getattr(jitter_buffer, "frames_wanted", True):
            try:
                packet._data = depayload(codec, packet.payload) if packet.payload else b""  # type: ignore[attr-defined]
            except ValueError:
                return
        pli_flag, encoded_frame = jitter_buffer.add(packet)

    after_buffer(receiver, packet.ssrc, codec, pli_flag, encoded_frame)
    continuation = state.get(CONTINUATION)
    if continuation is not None:
        continuation.after(packet, codec)


def after_buffer(
    receiver: RTCRtpReceiver,
    ssrc: int,
    codec: RTCRtpCodecParameters,
    pli_flag: bool,
    encoded_frame: JitterFrame | None,
) -> None:
    """The end of `handle_rtp_packet`: a PLI if asked, a whole frame to the decoder queue
    (the receiver tap's). media/continuation.py calls it for the packets the C core handled."""
    state = receiver.__dict__
    decoder_error = state[DECODER_ERROR]
    if decoder_error.is_set():
        decoder_error.clear()
        if state[KIND] == "video":
            pli_flag = True
    if pli_flag:
        run_now(receiver._send_rtcp_pli(ssrc))

    if encoded_frame is not None and state[DECODER_THREAD]:
        encoded_frame.timestamp = state[TIMESTAMP_MAPPER].map(encoded_frame.timestamp)
        state[DECODER_QUEUE].put((codec, encoded_frame))


def check_receiver(receiver: RTCRtpReceiver) -> None:
    """Raise if a receiver lacks the state this module reads (a patched aiortc build): once,
    when the receiver is tapped, rather than a KeyError logged for every packet."""
    missing = [name for name in STATE if name not in receiver.__dict__]
    if missing:
        raise AiortcVersionError(f"RTCRtpReceiver lacks {', '.join(missing)}")
