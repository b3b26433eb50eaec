"""A VP8 or audio source's packets handled in C without Python (media/_core.c's Router).

A 1 Mbit/s VP8 camera at 30 fps sends about four packets a frame, a microphone 50 Opus packets
a second. Nearly every one of them is the same case: the next sequence number, nothing
missing, nothing to decide. Python still ran every step for each (parse, route, the bandwidth
estimator, statistics, the NACK generator, the frame buffer, the publication's counters and
forwarders): ~5-10 µs of interpreter a packet on an idle machine, 2-3 times that in the loaded
server (docs/bench/README.md).

After media/sync_receive.py has handled a packet of a VP8 source, `Continuation.after` arms
the transport's Router for the packet that should come next, when every condition below holds;
the Router handles that packet in C through the same objects (the receiver's StreamStatistics
with aiortc's jitter step, NACK generator, FrameBuffer, bandwidth estimator, the publication's
counters) in the order handle_rtp_packet would, and arms itself for the one after. Anything
else goes to Python as before: a gap, a retransmission, a keyframe's first packet (the
publication counts it and keeps what follows for new subscribers), the sequence number's
wrap, mid/rid extensions, a packet the C core did not forward to every subscriber, and the
first packet after a second armed (so that the conditions below, and aiortc's "active SSRC"
time, are checked again at least once a second). Frames the buffer completes, PLIs and REMBs
it produces come back to Python here.

Conditions to arm, after Python handled a packet itself:
- the receiver's buffer is media/_frames.c's, and the codec VP8 (depayloaded there) or the
  receiver's audio (taken as it is: Opus);
- the packet was in order (the statistics' and the NACK generator's newest);
- the NACK generator misses nothing;
- the publication replays nothing to new subscribers (its keyframe is older than 200 ms) and
  each of its forwarders is forwarded in C for this source;
- the receiver is enabled and its decoder reported no error.

What is not kept per packet: the receiver's "active SSRC" time (aiortc's
getSynchronizationSources, 10 s expiry), which the packet handed back every second refreshes.
tests/media/test_continuation.py runs the same packets through Python alone and through the
Router with this armed, and compares what the receiver, the buffer and the publication end up
with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiortc import RTCRtpCodecParameters, RTCRtpReceiver
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci

from media import fast_rtp
from media.eager import run_now
from media.sync_receive import (
    BITRATE_ESTIMATOR,
    CONTINUATION,
    DECODER_ERROR,
    JITTER_BUFFER,
    KIND,
    NACK_GENERATOR,
    REMOTE_STREAMS,
    RTCP_SSRC,
    after_buffer,
)

if TYPE_CHECKING:
    from media._core import Router
    from media.fanout import Publication
    from media.receiver_tap import ReceiverTap

try:
    from media._frames import FrameBuffer
except ImportError:  # built optionally, as the forwarding core
    FrameBuffer = None  # type: ignore[assignment,misc]


def extension_lengths(extensions_map: Any) -> bytes:
    """Per one-byte extension id, what the Router accepts without Python: 0 any length (aiortc
    ignores the id), n exactly n bytes (aiortc unpacks n), 255 (-1) never (mid, rid)."""
    by_id, _ = fast_rtp._tables(extensions_map)
    lengths = bytearray(16)
    for x_id in range(1, 15):
        field = by_id.get(x_id)
        if field is not None:
            lengths[x_id] = fast_rtp.SIZES.get(field, 255)
    lengths[15] = 255
    return bytes(lengths)


class Continuation:
    """One video receiver's arming of its transport's Router (see the module's doc)."""

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        router: Router,
        tap: ReceiverTap,
        publication: Publication,
    ) -> None:
        self.receiver = receiver
        self.router = router
        self.tap = tap
        self.publication = publication
        self._state = receiver.__dict__
        self._video = self._state[KIND] == "video"
        # Per source: the extension tables it was registered with (reconfigured maps differ).
        self._registered: dict[int, object] = {}
        self._forward = publication.forward  # what the tap must hand packets to
        self._codec: RTCRtpCodecParameters | None = None  # the last codec found to be VP8
        # The publication's forwarders last found all forwarded in C, and for which source.
        self._in_core: tuple[object, ...] | None = None
        self._in_core_ssrc = -1
        publication.forwarders_changed = self.disarm

    def disarm(self) -> None:
        """Every source's next packet to Python (forwarders came or went)."""
        for ssrc in self._registered:
            self.router.disarm(ssrc)

    def after(self, packet: RtpPacket, codec: RTCRtpCodecParameters) -> None:
        """Python handled `packet` of this receiver: arm the Router for the next one if it can
        be handled in C. Nothing to disarm: the Router disarms a source itself whenever it
        hands one of its packets to Python. Runs for every packet Python handles (a few a
        second while armed): kept to plain attribute reads."""
        state = self._state
        sequence = packet.sequence_number
        ssrc = packet.ssrc
        statistics = state[REMOTE_STREAMS].get(ssrc)
        nack = state[NACK_GENERATOR]
        if (
            (codec is not self._codec and not self._codec_ok(codec))
            or statistics is None
            or statistics.max_seq != sequence
            or statistics._last_timestamp != packet.timestamp
            or (nack is not None and (nack.max_seq != sequence or nack.missing))
            or not self.receiver._enabled
            or state[DECODER_ERROR].is_set()
            or self.tap.on_packet != self._forward
            or not self.publication.replaying_nothing()
            or not self._forwarded_in_core(ssrc, codec)
        ):
            return
        tables = self.receiver.transport._rtp_header_extensions_map.__dict__.get(fast_rtp.TABLES)
        if (tables is None or self._registered.get(ssrc) is not tables) and not self._register(
            ssrc, codec
        ):
            return
        self.router.arm(ssrc, (sequence + 1) & 0xFFFF, packet.timestamp)

    def _codec_ok(self, codec: RTCRtpCodecParameters) -> bool:
        # What the C buffer takes: VP8 depayloaded there, audio as it is.
        if codec.payloadType is None or (self._video and codec.name != "VP8"):
            return False
        self._codec = codec
        return True

    def _forwarded_in_core(self, ssrc: int, codec: RTCRtpCodecParameters) -> bool:
        # Once every forwarder is in the core it stays there until the forwarders change
        # (forwarders_changed disarms and a new tuple is checked again).
        forwarders = self.publication.forwarders
        if forwarders is self._in_core and ssrc == self._in_core_ssrc:
            return True
        if not self.publication.forwarded_in_core(ssrc, codec.mimeType):
            return False
        self._in_core, self._in_core_ssrc = forwarders, ssrc
        return True

    def _register(self, ssrc: int, codec: RTCRtpCodecParameters) -> bool:
        """Tell the Router about `ssrc` (again, when the extensions were reconfigured); False
        where it holds no more sources (the packets stay in Python)."""
        # A receiver has one media source at a time: one it had before (a camera restarted
        # with a new SSRC) need not hold one of the Router's places.
        for old in [old for old in self._registered if old != ssrc]:
            self.router.forget(old)
            del self._registered[old]
        state = self._state
        extensions_map = self.receiver.transport._rtp_header_extensions_map
        estimator = state[BITRATE_ESTIMATOR]
        ids = getattr(extensions_map, fast_rtp.IDS)
        assert codec.payloadType is not None  # checked by _ready
        # aiortc routes a packet that carries a mid by it: only this receiver's own goes by.
        table = self.receiver.transport._rtp_router.mid_table
        mids = [mid for mid, receiver in table.items() if receiver is self.receiver]
        mid = mids[0].encode() if len(mids) == 1 else b""
        try:
            self.router.continue_with(
                ssrc,
                codec.payloadType,
                codec.clockRate,
                self._video,
                ids.abs_send_time or 0,
                extension_lengths(extensions_map),
                (ids.mid or 0) if 0 < len(mid) <= 16 else 0,
                mid if 0 < len(mid) <= 16 else b"-",
                state[REMOTE_STREAMS][ssrc],
                state[NACK_GENERATOR],
                state[JITTER_BUFFER].add_continued,
                estimator.add if estimator is not None else None,
                self.publication,
                lambda result: self._buffered(ssrc, codec, result),
                self._remb,
            )
        except OverflowError:  # other receivers of this transport hold every place
            return False
        self._registered[ssrc] = extensions_map.__dict__.get(fast_rtp.TABLES)
        return True

    def _buffered(self, ssrc: int, codec: RTCRtpCodecParameters, result: Any) -> None:
        # What handle_rtp_packet does after its buffer's add (a PLI, a frame made whole).
        pli_flag, encoded_frame = result
        after_buffer(self.receiver, ssrc, codec, pli_flag, encoded_frame)

    def _remb(self, remb: Any) -> None:
        rtcp_ssrc = self._state[RTCP_SSRC]
        if rtcp_ssrc is not None:
            feedback = RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
            )
            run_now(self.receiver._send_rtcp(feedback))

    def close(self) -> None:
        """Hand every source back to Python (the receiver stops or the tap goes)."""
        for ssrc in self._registered:
            self.router.forget(ssrc)
        self._registered.clear()
        self._state.pop(CONTINUATION, None)
        if self.publication.forwarders_changed == self.disarm:
            self.publication.forwarders_changed = None


def install(
    receiver: RTCRtpReceiver, router: Router | None, tap: ReceiverTap, publication: Publication
) -> Continuation | None:
    """Let `router` handle `receiver`'s packets in order; None without the C buffer or the
    core (everything stays in Python)."""
    if (
        router is None
        or FrameBuffer is None
        or type(receiver.__dict__.get(JITTER_BUFFER)) is not FrameBuffer
    ):
        return None
    continuation = Continuation(receiver, router, tap, publication)
    receiver.__dict__[CONTINUATION] = continuation
    return continuation
