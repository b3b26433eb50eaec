"""The encoded-frame tap on an aiortc RTCRtpReceiver (the one hook on the receive side).

aiortc 1.16.0: `RTCRtpReceiver._handle_rtp_packet()` depayloads RTP, assembles complete frames
in the jitter buffer and puts `(codec, JitterFrame)` on a private `queue.Queue`; a thread
(`decoder_worker`) takes them off and always decodes. The tap replaces that queue object on
one receiver instance with a stand-in whose put() hands the frame to us instead. The stand-in
still carries the None sentinel that stops the thread, so stop() and close() work as before.
The decoder thread is started by aiortc regardless, but it sits blocked on get() and never
creates a decoder unless `decode=True` asks for aiortc's own decoding as well.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpCodecParameters, RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from media import compat, frame_buffers, sync_receive
from media.frames import CodecInfo, EncodedFrame, keyframe_test

logger = logging.getLogger(__name__)

FrameSink = Callable[[EncodedFrame], None]
PacketSink = Callable[[RtpPacket, str], None]

# aiortc 1.16.0's private map of the receiver's payload types (media/compat.py pins it).
RECEIVER_CODECS = "_RTCRtpReceiver__codecs"


class _TapQueue:
    """Stands in for the receiver's decoder queue; only put() and get() are ever used."""

    def __init__(self, tap: ReceiverTap, inner: queue.Queue[Any]) -> None:
        self._tap = tap
        # The original queue: the decoder thread may already be blocked on it (if receive()
        # ran before the tap was installed), so the sentinel must still go through it.
        self._inner = inner

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            self._inner.put(None)
            self._tap._ended()
            return
        codec, frame = item
        for each in [frame, *self._tap._more_frames()]:
            self._tap._frame(codec, each)
            if self._tap.decode:
                self._inner.put((codec, each))

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return self._inner.get(block, timeout)


class ReceiverTap:
    """Encoded frames of one RTCRtpReceiver, after its jitter buffer, to a callback; and its
    RTP packets, as they enter the buffer, to another (`on_packet`, set any time).

    Both run on the event loop inside aiortc's packet handler: they must not block.
    `request_keyframe()` sends an RTCP PLI to the remote sender through this receiver.
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        kind: str,
        on_frame: FrameSink,
        *,
        on_end: Callable[[], None] | None = None,
        decode: bool = False,
        track_id: str = "",
    ) -> None:
        inner = getattr(receiver, compat.RECEIVER_DECODER_QUEUE, None)
        if isinstance(inner, _TapQueue):
            raise RuntimeError("this receiver is already tapped")
        if not isinstance(inner, queue.Queue):
            raise compat.AiortcVersionError("RTCRtpReceiver has no decoder queue to tap")
        sync_receive.check_receiver(receiver)  # the state its packets are handled with
        self.receiver = receiver
        self.kind = kind
        self.decode = decode
        self.track_id = track_id
        self.frames = 0
        self.bytes = 0
        self.keyframes = 0
        self.pli_sent = 0
        self._on_frame = on_frame
        self._on_end = on_end
        self._ended_once = False
        # Per payload type: the codec, and how to tell its keyframes (chosen once).
        self._codecs: dict[int | None, tuple[CodecInfo, Callable[[bytes], bool]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        setattr(receiver, compat.RECEIVER_DECODER_QUEUE, _TapQueue(self, inner))
        # Whole frames as soon as they are whole: a forwarding server must not hold them back
        # for a player's sake (media/frame_buffers.py).
        self._buffer = frame_buffers.install(receiver, kind)
        self._timestamps = getattr(receiver, frame_buffers.RECEIVER_TIMESTAMP_MAPPER)
        self._receiver_codecs: dict[int, RTCRtpCodecParameters] = getattr(receiver, RECEIVER_CODECS)
        self.on_packet: PacketSink | None = None
        self._buffer.forward = self._packet

    def _packet(self, packet: RtpPacket) -> None:
        on_packet = self.on_packet
        if on_packet is None:
            return
        codec = self._receiver_codecs.get(packet.payload_type)
        if codec is not None:
            try:
                on_packet(packet, codec.mimeType)
            except Exception:
                logger.exception("RTP packet consumer failed")

    @property
    def frames_wanted(self) -> bool:
        return self._buffer.frames_wanted

    def set_frames_wanted(self, wanted: bool) -> None:
        """Whether to reassemble frames at all (forwarding needs none: it takes packets)."""
        self._buffer.frames_wanted = wanted

    @property
    def ended(self) -> bool:
        return self._ended_once

    def request_keyframe(self) -> None:
        """Ask the remote sender for a keyframe (RTCP PLI, RFC 4585 section 6.3.1)."""
        if self._ended_once:
            return
        task = asyncio.get_running_loop().create_task(self._send_pli())
        # Keep a reference: the loop holds tasks weakly.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_pli(self) -> None:
        # The media SSRC is whatever this receiver heard lately. That may include the RTX
        # SSRC too; a PLI naming it is ignored by the sender, so no need to tell them apart.
        for source in self.receiver.getSynchronizationSources():
            await self.receiver._send_rtcp_pli(source.source)
            self.pli_sent += 1

    def _more_frames(self) -> list[JitterFrame]:
        """Frames whole behind the one aiortc just handed on (media/frame_buffers.py), with
        their timestamps mapped as aiortc maps the one it hands on."""
        frames = self._buffer.ready_frames()
        for frame in frames:
            frame.timestamp = self._timestamps.map(frame.timestamp)
        return frames

    def _frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        known = self._codecs.get(codec.payloadType)
        if known is None:
            info = CodecInfo.from_aiortc(codec)
            known = self._codecs[codec.payloadType] = (info, keyframe_test(info))
        info, keyframe = known
        data = bytes(frame.data)
        encoded = EncodedFrame(
            kind=self.kind,
            codec=info,
            data=data,
            pts=frame.timestamp,
            keyframe=keyframe(data),
            arrival=time.time(),
            track_id=self.track_id,
        )
        self.frames += 1
        self.bytes += len(data)
        self.keyframes += encoded.keyframe
        try:
            self._on_frame(encoded)
        except Exception:
            # Never let a consumer bug break aiortc's packet handling for this transport.
            logger.exception("encoded-frame consumer failed")

    def _ended(self) -> None:
        if self._ended_once:
            return
        self._ended_once = True
        if self._on_end is not None:
            # put(None) may come from aiortc's stop path in any context: defer the callback
            # to the loop so consumers never run inside aiortc's shutdown sequence.
            try:
                asyncio.get_running_loop().call_soon(self._on_end)
            except RuntimeError:
                self._on_end()
