"""One subscriber's copy of a publication, forwarded packet by packet (no depacketizing).

The publisher's RTP packets (after SRTP, RTX unwrapped) are rewritten for the subscriber's
sender as it negotiated it: its SSRC and payload type, sequence numbers and timestamps moved
by a constant offset from where that sender starts, its own header extensions (MID,
abs-send-time for video, the audio level the publisher measured). Payloads are not touched.

- A video subscriber starts at the first packet of a keyframe (media/rtp_keyframes.py), and
  starts again there if the publisher's stream restarts (new SSRC), continuing its numbering.
- Loss between server and subscriber: the subscriber's NACKs reach the aiortc sender, whose
  `_retransmit` is this forwarder's: the last `HISTORY_SIZE` packets are kept, resent as RTX
  when the subscriber negotiated it. Loss between publisher and server is repaired upstream
  (the receiver's NACKs) and the repaired packet is forwarded like any other, late.
- The sender's RTCP sender reports keep working: the counters and the NTP/RTP timestamp pair
  aiortc reads for them are kept up to date here.
- Once started, and where the C core is built (media/core.py), the forwarder moves its state
  onto a core `Output` routed from the publisher's transport: the packets that arrive after
  that are rewritten and sent in C before Python sees them (it skips those, by their serial),
  and the rest (RTX repairs, packets the core leaves to Python) go through the same Output,
  so numbering, history and counters stay in one place. The sender's counters are copied
  from it every `SYNC_INTERVAL` (its reports go out every 0.5-1.5 s).
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from typing import Any

from aiortc import RTCDtlsTransport, RTCRtpSender
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import RtpPacket

from media import core
from media.fast_clock import current_ntp_time
from media.rtp_keyframes import KeyframeStart, keyframe_start_for
from media.rtp_output import TX_BYTES, TX_PACKETS, RtpOutput

logger = logging.getLogger(__name__)

# As aiortc's sender: NACKs for older packets are not answered.
HISTORY_SIZE = 128

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

# aiortc 1.16.0's private sender state behind its RTCP sender reports (media/compat.py).
SENDER_NTP_TIMESTAMP = "_RTCRtpSender__ntp_timestamp"
SENDER_RTP_TIMESTAMP = "_RTCRtpSender__rtp_timestamp"
SENDER_OCTET_COUNT = "_RTCRtpSender__octet_count"
SENDER_PACKET_COUNT = "_RTCRtpSender__packet_count"

_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")
_WORD = struct.Struct("!I")
_SEQUENCE = struct.Struct("!H")
_ONE_BYTE_PROFILE = 0xBEDE
# The timestamp gap left when a restarted stream continues an earlier one: one frame.
_RESTART_GAP = {"audio": 960, "video": 3000}
# How often the sender's RTCP counters are copied from a core Output, in seconds.
SYNC_INTERVAL = 0.2
# aiortc 1.16.0's map of header extension ids, configured from the negotiation.
EXTENSION_IDS = "_HeaderExtensionsMap__ids"


def one_byte_extensions(elements: bytes) -> bytes:
    """RFC 8285 one-byte header extension block around already-encoded elements."""
    if not elements:
        return b""
    padded = elements + bytes(-len(elements) % 4)
    return _EXTENSION_HEADER.pack(_ONE_BYTE_PROFILE, len(padded) // 4) + padded


def _element(extension_id: int, value: bytes) -> bytes:
    return bytes([(extension_id << 4) | (len(value) - 1)]) + value


def _split(packet: bytes) -> tuple[bytes, bytes]:
    """A packet this module built (no CSRCs, no padding) as (header, payload)."""
    length = 12
    if packet[0] & 0x10:
        length += 4 + 4 * struct.unpack_from("!H", packet, 14)[0]
    return packet[:length], packet[length:]


class RtpForwarder:
    """Rewrites and sends one publication's packets on one subscriber's RTCRtpSender."""

    def __init__(
        self,
        sender: RTCRtpSender,
        parameters: RTCRtpSendParameters,
        kind: str,
        *,
        output: RtpOutput | None = None,
        source_transport: RTCDtlsTransport | None = None,
    ) -> None:
        codec = parameters.codecs[0]
        if codec.payloadType is None:
            raise ValueError("the sender's codec has no payload type")
        self.kind = kind
        self.mime_type = codec.mimeType.lower()
        self.payload_type: int = codec.payloadType
        self.ssrc = sender._ssrc
        self.rtx_payload_type = next(
            (
                c.payloadType
                for c in parameters.codecs
                if is_rtx(c) and c.parameters.get("apt") == codec.payloadType
            ),
            None,
        )
        self.rtx_ssrc = sender._rtx_ssrc
        self._forwarded = 0  # by Python; a core Output counts its own
        self.skipped = 0  # before the first keyframe, or of another codec
        self.retransmitted = 0
        self._output = output or RtpOutput(sender.transport)
        self._sender_state: dict[str, Any] = sender.__dict__
        self._starts_keyframe: KeyframeStart | None = (
            keyframe_start_for(codec.mimeType) if kind == "video" else None
        )
        ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        mid = (parameters.muxId or "").encode()
        self._mid_element = _element(ids[MID_URI], mid) if MID_URI in ids and mid else b""
        self._abs_send_time_id = ids.get(ABS_SEND_TIME_URI) if kind == "video" else None
        self._audio_level_id = ids.get(AUDIO_LEVEL_URI) if kind == "audio" else None
        self._static_extensions = one_byte_extensions(self._mid_element)
        self._history: list[tuple[int, bytes, bytes] | None] = [None] * HISTORY_SIZE
        self._source: int | None = None  # the publisher's SSRC being followed
        self._sequence_offset = 0
        self._timestamp_offset = random.getrandbits(32)
        self._last_sequence = random.getrandbits(16)
        self._last_timestamp = 0
        self._rtx_sequence = random.getrandbits(16)
        # The C core (media/core.py): the publisher's Router, and this forwarder's Output
        # once started on a connected transport (never with an injected output).
        self._transport: RTCDtlsTransport | None = sender.transport if output is None else None
        self._source_transport = source_transport
        self._router = (
            core.router_of(source_transport)
            if source_transport is not None and self._transport is not None
            else None
        )
        self._core: core.Output | None = None
        self._synced = (0, 0, 0, 0)  # core counters already added: forwarded, octets, tx
        self._sync_timer: asyncio.TimerHandle | None = None

    @property
    def forwarded(self) -> int:
        """Packets sent to the subscriber (not counting retransmissions)."""
        output = self._core
        return self._forwarded + (output.forwarded if output is not None else 0)

    @property
    def in_core(self) -> bool:
        """Whether the C core forwards for this subscriber now (media/core.py)."""
        return self._core is not None

    def forwards_in_core(self, ssrc: int, mime_type: str) -> bool:
        """Whether the C core forwards `ssrc`'s packets of `mime_type` here, so that `forward`
        would do nothing with them (media/continuation.py)."""
        return (
            self._core is not None and self._source == ssrc and mime_type.lower() == self.mime_type
        )

    @property
    def started(self) -> bool:
        return self._source is not None

    def forward(self, packet: RtpPacket, mime_type: str) -> None:
        """Send one of the publisher's packets to the subscriber (never waits)."""
        if mime_type != self.mime_type and mime_type.lower() != self.mime_type:
            self.skipped += 1
            return
        if packet.ssrc != self._source and not self._start(packet):
            return
        output = self._core
        if output is None and self._router is not None:
            output = self._to_core(packet)
        if output is not None:
            serial = packet.__dict__.get(core.SERIAL)
            if serial is None or serial != output.last_serial:
                level = packet.extensions.audio_level
                output.forward(
                    packet.marker,
                    packet.sequence_number,
                    packet.timestamp,
                    packet.payload,
                    -1 if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F),
                )
            return
        sequence = (packet.sequence_number + self._sequence_offset) & 0xFFFF
        timestamp = (packet.timestamp + self._timestamp_offset) & 0xFFFFFFFF
        ntp = current_ntp_time()
        extensions = self._extensions(packet, ntp)
        header = (
            _HEADER.pack(
                0x90 if extensions else 0x80,
                (packet.marker << 7) | self.payload_type,
                sequence,
                timestamp,
                self.ssrc,
            )
            + extensions
        )
        payload = packet.payload
        self._history[sequence % HISTORY_SIZE] = (sequence, header, payload)
        self._last_sequence = sequence
        self._last_timestamp = timestamp
        if self._output.send(header + payload):
            self._forwarded += 1
            state = self._sender_state
            state[SENDER_NTP_TIMESTAMP] = ntp
            state[SENDER_RTP_TIMESTAMP] = timestamp
            state[SENDER_OCTET_COUNT] += len(payload)
            state[SENDER_PACKET_COUNT] += 1

    async def retransmit(self, sequence_number: int) -> None:
        """Resend a packet the subscriber reported lost (stands in for the sender's own)."""
        entry = self._history[sequence_number % HISTORY_SIZE]
        output = self._core
        if output is not None:
            sent = output.history(sequence_number)
            if sent is not None:
                entry = (sequence_number, *_split(sent))
        if entry is None or entry[0] != sequence_number:
            return
        _, header, payload = entry
        if self.rtx_payload_type is None:
            data = header + payload
        else:
            # RFC 4588: the RTX stream's own numbering, the original sequence number first.
            timestamp = _WORD.unpack_from(header, 4)[0]
            data = (
                _HEADER.pack(
                    header[0],
                    (header[1] & 0x80) | self.rtx_payload_type,
                    self._rtx_sequence,
                    timestamp,
                    self.rtx_ssrc,
                )
                + header[12:]
                + _SEQUENCE.pack(sequence_number)
                + payload
            )
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        if output.send(data) if output is not None else self._output.send(data):
            self.retransmitted += 1

    def _start(self, packet: RtpPacket) -> bool:
        starts_keyframe = self._starts_keyframe
        if starts_keyframe is not None and not starts_keyframe(packet.payload):
            self.skipped += 1
            return False
        output = self._core
        if output is not None:
            self._last_sequence = output.last_sequence
            self._last_timestamp = output.last_timestamp
        if self._source is not None:
            # The publisher's stream restarted: go on from where the subscriber is.
            gap = _RESTART_GAP.get(self.kind, 3000)
            self._timestamp_offset = (self._last_timestamp + gap - packet.timestamp) & 0xFFFFFFFF
        self._sequence_offset = (self._last_sequence + 1 - packet.sequence_number) & 0xFFFF
        self._source = packet.ssrc
        if output is not None:
            self._follow(output, packet)
        return True

    def _to_core(self, packet: RtpPacket) -> core.Output | None:
        """Move onto a core Output once the subscriber's transport is up (else None)."""
        transport = self._transport
        assert transport is not None and self._router is not None
        if transport._state is not State.CONNECTED:
            return None  # not yet; and a closed transport drops in RtpOutput
        try:
            output = core.output_for(
                transport,
                ssrc=self.ssrc,
                payload_type=self.payload_type,
                mid_element=self._mid_element,
                abs_send_time_id=self._abs_send_time_id,
                audio_level_id=self._audio_level_id,
            )
        except Exception:
            logger.exception("forwarding core: no output for %s", transport)
            output = None
        if output is None:
            self._router = None  # a relayed pair, or no socket: Python's path for good
            return None
        output.last_sequence = self._last_sequence
        output.last_timestamp = self._last_timestamp
        try:
            self._follow(output, packet)
        except OverflowError:  # the publisher's transport has as many routes as it takes
            logger.warning("forwarding core: no route left for %s: forwarding in Python", self)
            output.close()
            self._router = None
            return None
        self._core = output
        self._sync_timer = asyncio.get_running_loop().call_later(SYNC_INTERVAL, self._tick)
        return output

    def _follow(self, output: core.Output, packet: RtpPacket) -> None:
        source_transport = self._source_transport
        assert source_transport is not None and self._router is not None
        ids = getattr(source_transport._rtp_header_extensions_map, EXTENSION_IDS, None)
        level_id = getattr(ids, "audio_level", None) if self.kind == "audio" else None
        output.follow(
            source=packet.ssrc,
            payload_type=packet.payload_type,
            sequence_offset=self._sequence_offset,
            timestamp_offset=self._timestamp_offset,
            audio_level_id=level_id or 0,
        )
        self._router.route(packet.ssrc, output)

    def _copy_counters(self, output: core.Output) -> None:
        """Add what the core Output sent since the last copy where aiortc's sender (RTCP
        sender reports) and transport (getStats) read it."""
        forwarded, octets, tx_bytes, tx_packets = (
            output.forwarded,
            output.octets,
            output.transport_bytes,
            output.transport_packets,
        )
        done = self._synced
        if forwarded != done[0]:
            state = self._sender_state
            state[SENDER_NTP_TIMESTAMP] = output.last_ntp
            state[SENDER_RTP_TIMESTAMP] = output.last_timestamp
            state[SENDER_OCTET_COUNT] += octets - done[1]
            state[SENDER_PACKET_COUNT] += forwarded - done[0]
        transport = self._transport
        assert transport is not None
        state = transport.__dict__
        state[TX_BYTES] += tx_bytes - done[2]
        state[TX_PACKETS] += tx_packets - done[3]
        self._synced = (forwarded, octets, tx_bytes, tx_packets)

    def _tick(self) -> None:
        output = self._core
        if output is None:
            return
        self._copy_counters(output)
        transport = self._transport
        assert transport is not None
        if transport._state is State.CONNECTED:
            self._sync_timer = asyncio.get_running_loop().call_later(SYNC_INTERVAL, self._tick)
        else:
            self.close()  # the subscriber is gone: stop sending for it

    def close(self) -> None:
        """Stop forwarding in C (the subscriber left or the track ended)."""
        output = self._core
        if output is None:
            return
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None
        self._copy_counters(output)
        self._core = None
        self._forwarded += output.forwarded
        self._last_sequence = output.last_sequence
        self._last_timestamp = output.last_timestamp
        if self._router is not None:
            self._router.unroute(output)
            self._router = None
        output.close()

    def _extensions(self, packet: RtpPacket, ntp: int) -> bytes:
        if self._abs_send_time_id is not None:
            value = (ntp >> 14) & 0x00FFFFFF
            tag = (self._abs_send_time_id << 4 | 2) << 24
            return one_byte_extensions(self._mid_element + _WORD.pack(tag | value))
        level = packet.extensions.audio_level
        if self._audio_level_id is not None and level is not None:
            voice, dbov = level
            level_byte = bytes([(0x80 if voice else 0) | (dbov & 0x7F)])
            return one_byte_extensions(
                self._mid_element + _element(self._audio_level_id, level_byte)
            )
        return self._static_extensions
